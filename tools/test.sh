#!/bin/sh
# Every test: the C core's unit tests (plain, then AddressSanitizer and
# UBSan builds), then the Python-level suite against every interpreter
# present: this machine's (Debian 12: 3.11 to 3.13) and, at the same time
# on the other core, CPython 3.14 and 3.15 in the Debian sid root
# (tools/test-sid.sh; a visible skip where it cannot run).  pytest's exit
# 5 (nothing collected) is a failure here: a run that tests nothing must
# not pass.
set -e
cd "$(dirname "$0")/.."
sh tools/test-core.sh
set +e
mkdir -p build
sid_log=build/test-sid.log
sh tools/test-sid.sh "$@" >"$sid_log" 2>&1 &
sid=$!
build/venv/bin/python -m pytest -ra --durations=15 tests "$@"
rc=$?
[ $rc -eq 5 ] && { echo "test: pytest collected no tests" >&2; rc=1; }
wait $sid
sid_rc=$?
echo
echo "=== CPython 3.14 and 3.15 (Debian sid root) ==="
cat "$sid_log"
[ $sid_rc -ne 0 ] && echo "test: the sid root's run failed (exit $sid_rc)" >&2
[ $rc -ne 0 ] && exit $rc
exit $sid_rc
