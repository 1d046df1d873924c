#!/bin/sh
# The C core's unit tests (and src/py/pd_foreign.c, a table with no Python in
# it), built three ways: plain, AddressSanitizer and
# UndefinedBehaviorSanitizer.  Reports they trigger on purpose go to stderr.
set -e
cd "$(dirname "$0")/.."
mkdir -p build/core-tests
src="tests/core/test_core.c src/core/*.c src/py/pd_foreign.c"
flags="-std=c11 -Wall -Wextra -Werror -g -pthread"
for variant in plain asan ubsan; do
    case $variant in
        plain) extra="-O2" ;;
        asan)  extra="-O1 -fsanitize=address -fno-omit-frame-pointer" ;;
        ubsan) extra="-O1 -fsanitize=undefined -fno-sanitize-recover=all" ;;
    esac
    cc $flags $extra $src -ldl -lm -o build/core-tests/test_core_$variant
    printf '%s: ' "$variant"
    # Quarantined blocks are referenced only from our mmap tables, which
    # LeakSanitizer does not scan: its leak check would report them all.
    # Locals must live on the real stack (newer ASan moves them to a heap
    # "fake stack" by default): a test frees one and expects the verdict
    # "the pointer is in a thread stack".
    ASAN_OPTIONS=detect_leaks=0:detect_stack_use_after_return=0 ./build/core-tests/test_core_$variant 2>build/core-tests/$variant.stderr || {
        cat build/core-tests/$variant.stderr >&2; exit 1; }
done
