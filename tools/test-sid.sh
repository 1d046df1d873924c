#!/bin/sh
# The Python-level suite on CPython 3.14 and 3.15 (release and debug),
# inside the Debian sid root (tools/sid-root.sh), as root, after the C
# core's unit tests built with its compiler.  Where that
# cannot run, one line says why and the run is a visible skip (exit 0).
#
#   tools/test-sid.sh [pytest args]
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
    echo "test-sid: SKIPPED CPython 3.14/3.15: the sid root needs root (debootstrap, chroot)" >&2
    exit 0
fi
if ! sh tools/sid-root.sh make >/dev/null; then
    echo "test-sid: FAILED to make the sid root (see above)" >&2
    exit 1
fi
set +e
sh tools/sid-root.sh run sh -c 'make -s all && sh tools/test-core.sh && exec python3 -m pytest -ra --durations=15 -p no:cacheprovider tests "$@"' sh "$@"
rc=$?
[ $rc -eq 5 ] && { echo "test-sid: pytest collected no tests" >&2; exit 1; }
exit $rc
