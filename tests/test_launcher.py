"""python-debug behaves like python: argv, -c, -m, scripts, stdin, exit
status, and a clear exit 2 for a missing or unsupported interpreter."""
import glob
import os
import subprocess
import sys

import pytest

from conftest import FRONT

ARGV = "import sys; print(sys.argv)"


def plain(py, *args, input=None, cwd=None):
    return subprocess.run([py["exe"], *args], capture_output=True, text=True,
                          input=input, cwd=cwd)


def test_dash_c_argv_matches_python(run, py):
    r = run(ARGV, args=["a", "b c", "-x"])
    assert r.rc == 0, r
    assert r.out == plain(py, "-c", ARGV, "a", "b c", "-x").stdout


def test_script_with_arguments(run, py, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint(sys.argv)\nsys.exit(7)\n")
    r = run(args=[str(script), "1", "2"])
    assert r.rc == 7, r
    assert r.out == plain(py, str(script), "1", "2").stdout


def test_dash_m_module(run, py, tmp_path):
    (tmp_path / "mod_under_test.py").write_text(
        "import sys\nif __name__ == '__main__':\n    print('main', sys.argv[1:])\n")
    r = run(args=["-m", "mod_under_test", "x"], cwd=tmp_path)
    assert r.rc == 0 and r.out == "main ['x']\n", r


def test_stdin_program(run):
    r = run(args=["-"], input="print(6 * 7)\n")
    assert r.rc == 0 and r.out == "42\n", r


def test_interactive_prompt_from_pipe(run):
    r = run(args=["-i", "-q"], input="x = 5\nprint(x * 2)\n")
    assert r.rc == 0 and "10" in r.out, r


def test_exit_status_of_exception(run):
    r = run("raise ValueError('boom')")
    assert r.rc == 1 and "ValueError: boom" in r.err, r


def test_sys_executable_is_the_interpreter(run, py):
    r = run("import sys; print(sys.executable); print(sys.prefix)")
    assert r.out == plain(py, "-c", "import sys; print(sys.executable); print(sys.prefix)").stdout


def test_killed_by_signal_like_python(run):
    r = run("import os, signal; os.kill(os.getpid(), signal.SIGTERM)")
    assert r.rc == -15, r


def test_bad_option_value_exits_2(run):
    r = run("pass", "quarantine=lots")
    assert r.rc == 2, r
    assert r.err.strip() == "python-debug: -X quarantine: expected a size in bytes such as 16M or 0, got 'lots'"


def test_missing_interpreter_exits_2():
    r = subprocess.run([FRONT, "--python", "/nonexistent/python3", "-c", "pass"],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "no Python interpreter" in r.stderr


def _fake_python(tmp_path, ver, nogil=0):
    """A stand-in that answers the front end's query as CPython `ver` would
    (the front end asks a script every time, never from its cache)."""
    major, minor, micro = map(int, ver.split("."))
    hexv = (major << 24) | (minor << 16) | (micro << 8) | 0xF0
    exe = tmp_path / ("python" + ver)
    exe.write_text("#!/bin/sh\nprintf '%%s\\n' %s cpython %s %d '' %d\n"
                   % (exe, ver, hexv, nogil))
    exe.chmod(0o755)
    return str(exe)


@pytest.mark.parametrize("ver,nogil,says", [
    ("3.10.13", 0, "needs CPython 3.11 to 3.15"),
    ("3.16.0", 0, "newer than CPython 3.15"),
    ("3.99.1", 0, "newer than CPython 3.15"),
    ("3.14.10", 1, "free-threaded"),
])
def test_unsupported_interpreter_exits_2(tmp_path, ver, nogil, says):
    fake = _fake_python(tmp_path, ver, nogil)
    r = subprocess.run([FRONT, "--python", fake, "-c", "pass"], capture_output=True, text=True)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unsupported interpreter" in lines[0] and says in lines[0], r
    assert "building the host" not in r.stderr


def test_env_selects_interpreter(py):
    r = subprocess.run([FRONT, "-c", "import sys; print(sys.version_info[:2])"],
                       capture_output=True, text=True,
                       env=dict(os.environ, PYDEBUG_PYTHON=py["exe"]))
    assert r.returncode == 0
    assert r.stdout.strip() == str(tuple(py["ver"][:2]))


def test_venv_interpreter_keeps_its_prefix(py, tmp_path):
    venv = tmp_path / "venv"
    made = subprocess.run([py["exe"], "-m", "venv", "--without-pip", str(venv)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip("%s cannot create a venv here: %s" % (py["exe"], made.stderr.strip()[-200:]))
    vpy = str(venv / "bin" / "python")
    code = "import sys; print(sys.prefix); print(sys.executable)"
    for _ in range(2):  # the second run answers from the interpreter cache
        r = subprocess.run([FRONT, "--python", vpy, "-c", code], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert r.stdout == subprocess.run([vpy, "-c", code], capture_output=True,
                                          text=True).stdout
