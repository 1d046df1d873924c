#!/bin/sh
# Fuzz the pyconfig.h parser with libFuzzer (clang, AddressSanitizer and
# UBSan) for SECONDS (default 600), starting from the pyconfig.h files of
# the interpreters present.  Needs clang-14 and libclang-rt-14-dev (as root
# it installs them).
#
#   sh tools/fuzz.sh [SECONDS]
set -e
cd "$(dirname "$0")/.."
secs=${1:-600}
cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cc" ]; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
        cc=clang-14
    else
        echo "fuzz: needs clang; run: sudo apt-get install -y clang-14 libclang-rt-14-dev" >&2
        exit 1
    fi
fi
out=build/fuzz
mkdir -p "$out/corpus"
for h in "$HOME"/.pyenv/versions/*/include/python3*/pyconfig.h /usr/include/python3*/pyconfig.h \
         /usr/include/*/python3*/pyconfig.h; do
    [ -f "$h" ] && cp "$h" "$out/corpus/$(echo "$h" | tr / _)"
done
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    tests/fuzz/fuzz_pyconfig.c src/core/pd_pyconfig.c -o "$out/fuzz_pyconfig"
"$out/fuzz_pyconfig" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus"
