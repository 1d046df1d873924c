#!/bin/sh
# Every test: the C core's unit tests (plain, then AddressSanitizer and
# UBSan builds), then the Python-level suite against every interpreter
# present.  pytest's exit 5 (nothing collected) is a failure here: a run
# that tests nothing must not pass.
set -e
cd "$(dirname "$0")/.."
sh tools/test-core.sh
set +e
build/venv/bin/python -m pytest -ra tests "$@"
rc=$?
[ $rc -eq 5 ] && { echo "test: pytest collected no tests" >&2; exit 1; }
exit $rc
