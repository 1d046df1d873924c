"""Valgrind mode: under memcheck with PYDEBUG_VALGRIND=1, guards and freed
blocks are inaccessible, so memcheck stops at the faulting instruction in
the extension.  Slow (valgrind), so one interpreter: the first present."""
import os
import shutil
import subprocess

import pytest

from conftest import FRONT, PRESENT, _build_ext

CASES = [("write_after_free(1)", "write_after_free (pdbuggy.c:"),
         ("overrun(2)", "overrun (pdbuggy.c:")]


def memcheck(code, *xopts):
    if shutil.which("valgrind") is None:
        pytest.skip("valgrind is not installed (Debian: valgrind)")
    if not PRESENT:
        pytest.skip("no supported interpreter present")
    py = PRESENT[0]
    env = dict(os.environ, PYDEBUG_VALGRIND="1", PYTHONPATH=_build_ext(py))
    subprocess.run([FRONT, "--python", py["exe"], "-c", "pass"], check=True, env=env)
    return subprocess.run(
        ["valgrind", "-q", "--undef-value-errors=no", "--trace-children=yes",
         "--error-exitcode=99", FRONT, "--python", py["exe"], *xopts, "-c", code],
        capture_output=True, text=True, env=env, timeout=900)


@pytest.mark.slow
@pytest.mark.parametrize("call,where", CASES, ids=[c[0] for c in CASES])
def test_memcheck_pins_the_faulting_write(call, where):
    r = memcheck("import pdbuggy\npdbuggy.%s\nprint('done')" % call, "-X", "on_error=continue")
    errors = [l for l in r.stderr.splitlines() if "Invalid write" in l or "Invalid read" in l]
    assert r.returncode == 99 and len(errors) == 1, r.stderr[-4000:]
    assert where in r.stderr, r.stderr[-4000:]


@pytest.mark.slow
def test_clean_run_under_memcheck_has_no_invalid_access():
    r = memcheck("import pdbuggy\nprint(pdbuggy.clean())")
    assert r.returncode == 0 and "Invalid" not in r.stderr, r.stderr[-4000:]
