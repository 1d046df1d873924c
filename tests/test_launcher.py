"""python-debug behaves like python: argv, -c, -m, scripts, stdin, exit
status, and a clear exit 2 for a missing or unsupported interpreter."""
import glob
import os
import subprocess
import sys

import pytest

from conftest import FRONT, PRESENT

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


# The host cache (src/launcher/front.c) -------------------------------------
# What these check does not depend on the interpreter: one release
# interpreter runs them (each builds hosts), not every one present.

@pytest.fixture(scope="module")
def one_py():
    rel = [i for i in PRESENT if not i["abiflags"]]
    if not rel:
        pytest.skip("no release interpreter present")
    return rel[-1]

def _front(one_py, env, *args):
    return subprocess.run([FRONT, "--python", one_py["exe"], *args], capture_output=True,
                          text=True, env=env, timeout=600)


def test_hosts_go_to_the_xdg_cache_and_are_reused(one_py, tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    env.pop("PYDEBUG_CACHE", None)
    first = _front(one_py, env, "-c", "print('ok')")
    assert first.returncode == 0 and first.stdout == "ok\n", first.stderr
    assert "building the host" in first.stderr
    hosts = glob.glob(str(tmp_path / "xdg" / "python-debug" / "hosts" / "cpython-*" /
                          "python-debug-host"))
    assert len(hosts) == 1, hosts
    again = _front(one_py, env, "-c", "print('ok')")
    assert again.returncode == 0 and again.stderr == "", again.stderr


def test_venvs_of_one_interpreter_share_its_host(one_py, tmp_path):
    env = dict(os.environ, PYDEBUG_CACHE=str(tmp_path / "cache"))
    assert _front(one_py, env, "-c", "pass").returncode == 0
    venv = tmp_path / "venv"
    if subprocess.run([one_py["exe"], "-m", "venv", "--without-pip", str(venv)],
                      capture_output=True).returncode != 0:
        pytest.skip("%s cannot create a venv here" % one_py["exe"])
    r = subprocess.run([FRONT, "--python", str(venv / "bin" / "python"), "-c",
                        "import sys; print(sys.prefix)"], capture_output=True, text=True, env=env)
    assert r.returncode == 0 and r.stdout.strip() == str(venv), r.stderr
    assert "building the host" not in r.stderr


def test_concurrent_first_runs_build_once(one_py, tmp_path):
    env = dict(os.environ, PYDEBUG_CACHE=str(tmp_path / "cache"))
    procs = [subprocess.Popen([FRONT, "--python", one_py["exe"], "-c", "print('ok')"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(3)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    assert [o for o, _ in outs] == ["ok\n"] * 3
    assert sum(e.count("building the host") for _, e in outs) == 1, outs


def test_rebuilt_when_the_interpreter_changes(one_py, tmp_path):
    """A copy of the interpreter's binary whose file changes (an upgrade in
    place) gets a new host; the same file does not."""
    real = os.path.realpath(one_py["exe"])
    prefix = os.path.dirname(os.path.dirname(real))
    copy = tmp_path / "interp"
    (copy / "bin").mkdir(parents=True)
    for d in ("lib", "include"):
        if os.path.isdir(os.path.join(prefix, d)):
            os.symlink(os.path.join(prefix, d), copy / d)
    exe = copy / "bin" / os.path.basename(real)
    shutil_copy = __import__("shutil").copy2
    shutil_copy(real, exe)
    if subprocess.run([str(exe), "-c", "pass"], capture_output=True).returncode != 0:
        pytest.skip("a copy of %s does not run from elsewhere" % real)
    env = dict(os.environ, PYDEBUG_CACHE=str(tmp_path / "cache"))
    run = lambda: subprocess.run([FRONT, "--python", str(exe), "-c", "pass"],
                                 capture_output=True, text=True, env=env, timeout=600)
    assert "building the host" in run().stderr
    assert "building the host" not in run().stderr
    os.utime(exe, (1, 1))
    r = run()
    assert r.returncode == 0 and "building the host" in r.stderr, r.stderr


def test_missing_compiler_is_one_line(one_py, tmp_path):
    env = dict(os.environ, PYDEBUG_CACHE=str(tmp_path / "cache"), CC="/nonexistent/cc")
    r = _front(one_py, env, "-c", "pass")
    assert r.returncode == 2, r
    lines = [l for l in r.stderr.splitlines() if "building the host" not in l]
    assert len(lines) == 1 and "no C compiler (/nonexistent/cc)" in lines[0], r.stderr
    assert "install" in lines[0]


def test_bad_link_choice_is_one_line(one_py, tmp_path):
    env = dict(os.environ, PYDEBUG_CACHE=str(tmp_path / "cache"), PYDEBUG_LINK="dynamic")
    r = _front(one_py, env, "-c", "pass")
    assert r.returncode == 2
    assert "PYDEBUG_LINK=dynamic: expected auto, shared or static" in r.stderr, r.stderr



def test_missing_headers_is_one_line(one_py, tmp_path):
    """An interpreter whose include folder has no Python.h (no -dev
    package): _hostbuild.py says which package, in one line, exit 3 (the
    front end's 2)."""
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "src", "python", "pydebug", "_hostbuild.py")
    code = ("import runpy, sys, sysconfig\n"
            "real = sysconfig.get_paths\n"
            "sysconfig.get_paths = lambda *a, **k: dict(real(*a, **k), include=%r)\n"
            "sys.argv = [%r, 'src', %r]\n"
            "runpy.run_path(%r, run_name='__main__')\n"
            % (str(tmp_path / "no-headers"), script, str(tmp_path / "out"), script))
    r = subprocess.run([one_py["exe"], "-I", "-c", code], capture_output=True, text=True)
    assert r.returncode == 3, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Python headers" in lines[0] and "install" in lines[0], r.stderr
    assert "python%d.%d-dev" % tuple(one_py["ver"][:2]) in lines[0] or "development package" in lines[0]
