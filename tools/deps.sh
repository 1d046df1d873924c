#!/bin/sh
# Install what python-debug's build, demo and tests need, when missing.
# Debian packages as root (or print the apt-get line), pytest into a venv
# of the python3 on PATH at build/venv.
#
#   tools/deps.sh        everything the tests need
#   tools/deps.sh demo   only what the demo needs: a compiler (no CPython build)
set -e
cd "$(dirname "$0")/.."
need=""
for pair in gcc:gcc make:make addr2line:binutils; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
done
if [ "$1" = demo ]; then
    if [ -n "$need" ]; then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
        else
            echo "deps: missing Debian packages; run: sudo apt-get install -y$need" >&2
            exit 1
        fi
    fi
    exit 0
fi
[ -f /usr/include/valgrind/memcheck.h ] || need="$need valgrind"
# Debian's interpreters the tests cover: release and --with-pydebug 3.11,
# their headers and the standard test package.
if [ -r /etc/debian_version ]; then
    for pkg in python3.11-dev python3.11-dbg libpython3.11-dbg libpython3.11-testsuite python3.11-venv; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
    done
fi
if [ -n "$need" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "deps: installing$need" >&2
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
    else
        echo "deps: missing Debian packages; run: sudo apt-get install -y$need" >&2
        exit 1
    fi
fi
if [ ! -x build/venv/bin/pytest ]; then
    py=$(command -v python3)
    echo "deps: creating build/venv with pytest ($py)" >&2
    "$py" -m venv build/venv
    build/venv/bin/pip install -q pytest >/dev/null
fi
# A 3.13 whose reference tracer reports every destruction (>= 3.13.3), for
# the tracer backend's tests, built from Debian's sources when missing.
if [ -r /etc/debian_version ]; then
    if [ "$(id -u)" = 0 ]; then
        sh tools/build-cpython.sh 3.13 >/dev/null
    elif [ ! -x "${PYDEBUG_CACHE:-$HOME/.cache/python-debug}/cpython-3.13.5/bin/python3.13" ]; then
        echo "deps: no CPython 3.13.5 built; as root run: sh tools/build-cpython.sh 3.13" >&2
    fi
fi
