"""python-debug installed as a user installs it: the sdist built from this
tree, installed with pip into a fresh venv of two interpreters (one of
them 3.12 or newer), then run with the checkout out of reach (a private
mount hides it) from a read-only install: the demo bug, `python-debug -m pytest --leaks` on a
suite that leaks (no -p), the same with -n 2, a child reached through a
shell (the .pth hook), and plain python's one line for --leaks.  Hosts go
to $XDG_CACHE_HOME."""
import glob
import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOT, _build_ext, two_interpreters

SUITE = os.path.join(ROOT, "tests", "data", "leaky_suite")
LEAKING = {"test_lk_new_reference", "test_lk_error_path", "test_lk_container_insert",
           "test_lk_extra_return", "test_lk_leaked_key", "test_lk_dealloc",
           "test_python_level_leak", "test_lk_existing_reference"}


TWO = two_interpreters()
pytestmark = pytest.mark.skipif(
    len(TWO) < 2, reason="needs two release interpreters of different series, one 3.12+")


def _namespace():
    ns = ["unshare", "--mount", "--propagation", "private"]
    return ns if os.getuid() == 0 else ns + ["--map-root-user"]


def _hidden(cmd, **kw):
    """Run cmd where the checkout cannot be read (a tmpfs mounted over it
    in a mount namespace of its own) and the install cannot be written
    (the venv, named by its python-debug, bound read-only)."""
    venv = os.path.dirname(os.path.dirname(cmd[0]))
    inner = ('mount -t tmpfs tmpfs "$0" && mount --bind "$1" "$1" && '
             'mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"')
    return subprocess.run(_namespace() + ["sh", "-c", inner, ROOT, venv] + list(cmd),
                          capture_output=True, text=True, **kw)


@pytest.fixture(scope="module", autouse=True)
def _mount_namespace():
    if subprocess.run(_namespace() + ["true"], capture_output=True).returncode != 0:
        pytest.skip("no mount namespace here (unshare) to put the checkout out of reach")


@pytest.fixture(scope="module", params=TWO, ids=[i["id"] for i in TWO])
def installed(request, sdist, tmp_path_factory):
    """(venv, work dir with the demo, the suite and its extensions, env)."""
    info = request.param
    top = tmp_path_factory.mktemp("inst-" + info["id"])
    venv = top / "venv"
    subprocess.run([info["exe"], "-m", "venv", str(venv)], check=True, capture_output=True)
    p = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", sdist, "pytest",
                        "pytest-xdist"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    work = top / "work"
    shutil.copytree(SUITE, work / "suite")
    shutil.copy(os.path.join(ROOT, "examples", "demo.py"), work / "demo.py")
    exts = work / "ext"
    shutil.copytree(_build_ext(info), exts)
    env = dict(os.environ, PYTHONPATH=str(exts), XDG_CACHE_HOME=str(top / "cache"))
    env.pop("PYDEBUG_CACHE", None)
    env.pop("PYDEBUG_PYTHON", None)
    return venv, work, env


def test_installs_the_command_and_nothing_of_the_checkout(installed):
    venv, work, env = installed
    front = venv / "bin" / "python-debug"
    assert front.exists()
    assert ROOT.encode() not in front.read_bytes()


def test_demo_bug_from_the_installed_package(installed):
    venv, work, env = installed
    r = _hidden([str(venv / "bin" / "python-debug"), "demo.py"], cwd=str(work), env=env,
                timeout=600)
    assert "==python-debug== ERROR: buffer overrun" in r.stderr, r.stdout + r.stderr
    alloc = r.stderr.split("allocated by", 1)[1]
    assert "C caller:  overrun (" in alloc and 'demo.py", line 8' in alloc, r.stderr
    # Built into the user's cache, for the venv's own interpreter.
    assert glob.glob(os.path.join(env["XDG_CACHE_HOME"], "python-debug", "hosts", "cpython-*",
                                  "python-debug-host"))


def _leaks(installed, *extra):
    venv, work, env = installed
    report = work / ("leaks%s.json" % "-".join(extra))
    r = _hidden([str(venv / "bin" / "python-debug"), "-m", "pytest", "-q", "-p",
                 "no:cacheprovider", "--leaks", "--leaks-report", str(report), *extra,
                 "suite"], cwd=str(work), env=env, timeout=900)
    res = json.loads(report.read_text()) if report.exists() else []
    return r, {x["name"].split("::")[-1] for x in res if x["leaked"]}, len(res)


def test_leaks_plugin_registers_itself(installed):
    r, leaking, n = _leaks(installed)
    assert r.returncode == 1, r.stdout + r.stderr
    assert leaking == LEAKING and n == 16, r.stdout
    assert "python-debug leaks (3:3)" in r.stdout
    # one line per leaking test first
    assert "%d of 16 tests leaked:" % len(LEAKING) in r.stdout, r.stdout
    assert {ln.split("::")[-1].split(":")[0] for ln in r.stdout.splitlines()
            if ln.startswith("LEAK ")} == LEAKING, r.stdout


def test_leaks_under_xdist_one_summary(installed):
    r, leaking, n = _leaks(installed, "-n", "2")
    assert r.returncode == 1, r.stdout + r.stderr
    assert leaking == LEAKING and n == 16, r.stdout
    assert r.stdout.count("python-debug leaks (3:3)") == 1, r.stdout


def test_leaks_outside_python_debug_says_how(installed):
    venv, work, env = installed
    r = _hidden([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "--leaks", "suite"], cwd=str(work), env=env, timeout=300)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "--leaks needs python-debug: run python-debug -m pytest --leaks" in r.stderr, r.stderr


def test_plain_pytest_unaffected(installed):
    venv, work, env = installed
    r = _hidden([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 "suite"], cwd=str(work), env=env, timeout=300)
    assert r.returncode == 0 and "16 passed" in r.stdout, r.stdout + r.stderr
    # The suite's own warning only: nothing of the plugin's.
    assert "16 passed, 1 warning" in r.stdout and "Pytest" not in r.stdout, r.stdout


def test_child_through_a_shell_follows_by_the_pth_hook(installed):
    venv, work, env = installed
    code = ("import subprocess, sys; subprocess.run(['sh', '-c', sys.executable + "
            "' -c \"import sys; print(\\'under\\', \\'_pydebug\\' in sys.builtin_module_names)\"'])")
    r = _hidden([str(venv / "bin" / "python-debug"), "-c", code], cwd=str(work), env=env,
                timeout=300)
    assert "under True" in r.stdout, r.stdout + r.stderr
    r = _hidden([str(venv / "bin" / "python-debug"), "-X", "follow=off", "-c", code],
                cwd=str(work), env=env, timeout=300)
    assert "under False" in r.stdout, r.stdout + r.stderr


def test_read_only_install_and_another_interpreter(installed):
    """pipx style: the install's python-debug runs an interpreter that does
    not have python-debug installed, named by --python; its pydebug package
    comes from the install."""
    venv, work, env = installed
    mine = os.path.realpath(venv / "bin" / "python")
    other = [i for i in TWO if os.path.realpath(i["exe"]) != mine][0]
    code = "import sys, pydebug, _pydebug; print(sys.version_info[:2], pydebug.__file__)"
    r = _hidden([str(venv / "bin" / "python-debug"), "--python", other["exe"], "-c", code],
                cwd=str(work), env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert str(tuple(other["ver"][:2])) in r.stdout and str(venv) in r.stdout, r.stdout


def test_user_site_install(sdist, tmp_path):
    """pip install --user: the command in the user base's bin, the package
    in its site-packages, the interpreter on PATH."""
    info = TWO[-1]
    base = tmp_path / "userbase"
    env = dict(os.environ, PYTHONUSERBASE=str(base), XDG_CACHE_HOME=str(tmp_path / "cache"))
    for var in ("PYDEBUG_CACHE", "PYDEBUG_PYTHON", "PYTHONPATH", "VIRTUAL_ENV", "PIP_USER"):
        env.pop(var, None)
    p = subprocess.run([info["exe"], "-m", "pip", "install", "-q", "--user",
                        "--break-system-packages", sdist], capture_output=True, text=True, env=env)
    if p.returncode != 0 and "--break-system-packages" in p.stderr:
        p = subprocess.run([info["exe"], "-m", "pip", "install", "-q", "--user", sdist],
                           capture_output=True, text=True, env=env)
    if p.returncode != 0 and "user site-packages are not visible" in p.stderr:
        pytest.skip("%s has no user site" % info["exe"])
    assert p.returncode == 0, p.stdout + p.stderr
    front = base / "bin" / "python-debug"
    code = "import sys, pydebug, _pydebug; print(sys.version_info[:2], pydebug.__file__)"
    r = _hidden([str(front), "--python", info["exe"], "-c", code], env=env, cwd=str(tmp_path),
                timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert str(tuple(info["ver"][:2])) in r.stdout and str(base) in r.stdout, r.stdout
