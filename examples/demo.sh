#!/bin/sh
# Build the buggy extension for the default python3 and run it under
# python-debug.  The report on stderr is the point; the abort is expected.
set -e
cd "$(dirname "$0")/.."
PY=$(python3 -c 'import sys; print(sys.executable)')
out=build/demo
mkdir -p $out
cc -std=c11 -O0 -g -fPIC -shared $($PY tools/pyflags.py cflags) tests/ext/pdbuggy.c \
   -o $out/pdbuggy$($PY tools/pyflags.py ext-suffix) -lpthread
echo "\$ build/bin/python-debug examples/demo.py" >&2
set +e
PYTHONPATH=$out build/bin/python-debug --python "$PY" examples/demo.py
rc=$?
echo "(python-debug exited with status $rc: aborted after the report, as a debug build does)" >&2
[ $rc -ne 0 ]
