#!/bin/sh
# Build a CPython the machine lacks, for the tests, from Debian's source
# package, and cache it.  Prints the installed interpreter's path on
# stdout; progress on stderr.
#
#   tools/build-cpython.sh 3.13 [--debug]
#
# The upstream version is pinned (below); the build itself is
# `pydebug build` (src/python/pydebug/build.py), installing the whole tree
# at ${PYDEBUG_CACHE:-$HOME/.cache/python-debug}/cpython-VERSION[-debug].
# A finished build is reused; a failed one leaves nothing behind.
set -e
cd "$(dirname "$0")/.."
series=$1
case "$series" in
    3.13) version=3.13.5 ;;
    *) echo "build-cpython: no pinned source for '$series' (known: 3.13)" >&2; exit 2 ;;
esac
prefix=${PYDEBUG_CACHE:-$HOME/.cache/python-debug}/cpython-$version
flags=""
if [ "$2" = "--debug" ]; then prefix=$prefix-debug; flags=--with-pydebug; fi
if [ -x "$prefix/bin/python$series" ]; then
    echo "$prefix/bin/python3"
    exit 0
fi
exec python3 src/python/pydebug/build.py "$version" --tree "$prefix" $flags
