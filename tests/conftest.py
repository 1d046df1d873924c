"""Shared fixtures: the interpreters present on this machine, the
python-debug front end, and the pdbuggy test extension built for each
interpreter.

Interpreters are discovered, never assumed: pyenv's versions, Debian's
/usr/bin/python3.X and python3.X-dbg.  Each supported kind that is missing
shows up as a skipped test with the reason, never silently."""
import glob
import json
import os
import subprocess
import sys
import sysconfig

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build")
FRONT = os.path.join(BUILD, "bin", "python-debug")

QUERY = ("import sys, sysconfig, json; print(json.dumps({'exe': sys.executable, "
         "'impl': sys.implementation.name, 'ver': list(sys.version_info[:3]), "
         "'abiflags': sys.abiflags, 'libpl': sysconfig.get_config_var('LIBPL'), "
         "'library': sysconfig.get_config_var('LIBRARY'), "
         "'nogil': bool(sysconfig.get_config_var('Py_GIL_DISABLED'))}))")

# The kinds the project supports; each must be tested where present.
EXPECTED = [("3.11", ""), ("3.12", ""), ("3.13", ""), ("3.11", "d"),
            ("3.14", ""), ("3.15", ""), ("3.14", "d"), ("3.15", "d")]
# Debian 12 cannot run 3.14 and 3.15 (their binaries need a newer C
# library): tools/sid-root.sh runs the suite for them in a sid root, where
# 3.11 to 3.13 are the missing ones.
IN_SID = bool(os.environ.get("PYDEBUG_IN_SID"))


def _pyenv_root():
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    return root if os.path.isdir(root) else None


def _candidates():
    found = []
    root = _pyenv_root()
    if root:
        found += sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3")))
    # What tools/build-cpython.sh built from Debian's sources.
    cache = os.environ.get("PYDEBUG_CACHE") or os.path.expanduser("~/.cache/python-debug")
    found += sorted(glob.glob(os.path.join(cache, "cpython-*", "bin", "python3")))
    found += sorted(glob.glob("/usr/bin/python3.1[0-9]"))
    found += sorted(glob.glob("/usr/bin/python3.1[0-9]-dbg"))
    return found


def _describe(path):
    try:
        out = subprocess.run([path, "-I", "-c", QUERY], capture_output=True,
                             text=True, timeout=60)
        return json.loads(out.stdout)
    except Exception:
        return None


def discover():
    """[(id, info)] for every supported interpreter present, and the
    missing expected kinds as (id, reason)."""
    present, seen = [], set()
    for path in _candidates():
        info = _describe(path)
        if not info or info["impl"] != "cpython" or info["nogil"]:
            continue
        if tuple(info["ver"][:2]) < (3, 11):
            continue
        real = os.path.realpath(info["exe"])
        if real in seen:
            continue
        seen.add(real)
        info["path"] = path
        kind = "%d.%d%s" % (info["ver"][0], info["ver"][1], info["abiflags"])
        origin = ("debian" if path.startswith("/usr/bin") else
                  "pyenv" if "/versions/" in path else "built")
        info["id"] = "%s-%s-%s" % (origin, ".".join(map(str, info["ver"])), info["abiflags"] or "rel")
        info["kind"] = kind
        present.append(info)
    kinds = {i["kind"] for i in present}
    missing = ["%s%s" % k for k in EXPECTED if "%s%s" % k not in kinds]
    return present, missing


PRESENT, MISSING = discover()

# tests/data holds programs the tests run (a leaking unittest module), not tests.
collect_ignore = ["data"]


def interpreter_params():
    params = [pytest.param(i, id=i["id"]) for i in PRESENT]
    for kind in MISSING:
        where = ("the Debian sid root's run (tools/sid-root.sh) has 3.14 and 3.15 only"
                 if IN_SID else
                 "tools/sid-root.sh runs them in a Debian sid root, as root"
                 if kind[:4] in ("3.14", "3.15") else
                 "looked in pyenv's versions, the build cache and /usr/bin")
        params.append(pytest.param(None, id="missing-" + kind, marks=pytest.mark.skip(
            reason="no CPython %s interpreter on this machine (%s)" % (kind, where))))
    return params


# A host linked against the interpreter's static libpython3.X.a (what an
# interpreter built without --enable-shared gets): Debian's python3.11
# ships one.  These modules run on it too.
STATIC_MODULES = {"test_allocator", "test_objects"}


def static_variants():
    if IN_SID:  # the sid root's run is the longer one: Debian 12's 3.11 is the case
        return []
    out = []
    for info in PRESENT:
        lib = os.path.join(info.get("libpl") or "", info.get("library") or "")
        if info["id"].startswith("debian-") and not info["abiflags"] and lib.endswith(".a") \
                and os.path.exists(lib):
            out.append(dict(info, id=info["id"] + "-static", env={"PYDEBUG_LINK": "static"}))
    return out


def pytest_generate_tests(metafunc):
    if "py" in metafunc.fixturenames:
        params = interpreter_params()
        if metafunc.module.__name__.rsplit(".", 1)[-1] in STATIC_MODULES:
            static = static_variants()
            params += [pytest.param(i, id=i["id"]) for i in static]
            if not static and not IN_SID:
                params.append(pytest.param(None, id="missing-static-libpython", marks=pytest.mark.skip(
                    reason="no Debian python3.11 with its static libpython (libpython3.11-dev)")))
        metafunc.parametrize("py", params, scope="session")


# Built as extensions are, with optimization (see the file's comment).
OPTIMIZED_EXTS = {"pdrefs"}


def _build_ext(info):
    """Compile the test extensions tests/ext/*.c for one interpreter;
    return their folder."""
    exe = info["exe"]
    out_dir = os.path.join(BUILD, "tests", info["id"])
    os.makedirs(out_dir, exist_ok=True)
    flags = lambda what: subprocess.run(
        [exe, os.path.join(ROOT, "tools", "pyflags.py"), what],
        capture_output=True, text=True, check=True).stdout.split()
    suffix = flags("ext-suffix")[0]
    cflags = flags("cflags")
    for src in sorted(glob.glob(os.path.join(ROOT, "tests", "ext", "*.c"))):
        name = os.path.splitext(os.path.basename(src))[0]
        target = os.path.join(out_dir, name + suffix)
        if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(src):
            opt = "-O1" if name in OPTIMIZED_EXTS else "-O0"
            subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror",
                            "-Wno-unused-parameter", opt, "-g", "-fPIC", "-shared",
                            *cflags, src, "-o", target, "-lpthread"], check=True)
    return out_dir


@pytest.fixture(scope="session")
def ext_dir(py):
    return _build_ext(py)


@pytest.fixture(scope="session")
def venv_python(py):
    """A venv of the interpreter with pytest in it (from PyPI), and the
    plugins in wide use the leak hunter is tested with (pytest-xdist,
    pytest-timeout, hypothesis), for running the pytest plugin under
    python-debug; made once in build/venvs/."""
    venv = os.path.join(BUILD, "venvs", py["id"])
    exe = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, "ready-plugins")):
        subprocess.run([py["exe"], "-m", "venv", "--clear", venv], check=True,
                       capture_output=True)
        subprocess.run([exe, "-m", "pip", "install", "-q", "pytest", "pytest-xdist",
                        "pytest-timeout", "hypothesis"], check=True, capture_output=True)
        open(os.path.join(venv, "ready-plugins"), "w").close()
    return exe


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return "rc=%s\n--- stdout\n%s\n--- stderr\n%s" % (self.rc, self.out, self.err)


@pytest.fixture
def run(py, ext_dir):
    """run(code_or_args, *xopts, input=None) under python-debug."""
    def _run(code=None, *xopts, args=None, input=None, env=None, timeout=300, cwd=None):
        cmd = [FRONT, "--python", py["exe"]]
        for x in xopts:
            cmd += ["-X", x]
        if code is not None:
            cmd += ["-c", code]
        if args:
            cmd += list(args)
        e = dict(os.environ)
        e.update(py.get("env", {}))
        e["PYTHONPATH"] = ext_dir
        if env:
            e.update(env)
            if "PYTHONPATH" in env:
                e["PYTHONPATH"] = env["PYTHONPATH"] + os.pathsep + ext_dir
        proc = subprocess.run(cmd, capture_output=True, text=True, input=input,
                              env=e, timeout=timeout, cwd=cwd)
        return Result(proc)
    return _run


def two_interpreters():
    """The oldest and the newest release interpreter series present, when
    the newest is 3.12 or later (what an install test covers)."""
    by_series = {}
    for i in PRESENT:
        if not i["abiflags"]:
            by_series.setdefault(tuple(i["ver"][:2]), i)
    series = sorted(by_series)
    if len(series) < 2 or series[-1] < (3, 12):
        return []
    return [by_series[series[0]], by_series[series[-1]]]


@pytest.fixture(scope="session")
def sdist(tmp_path_factory):
    """python-debug's sdist, built from this tree's git tree as a release
    is (python -m build in a venv of its own; meson-python from PyPI)."""
    import shutil
    if not os.path.isdir(os.path.join(ROOT, ".git")) or shutil.which("git") is None:
        pytest.skip("the sdist is made from the git tree (meson dist); this checkout has none")
    out = tmp_path_factory.mktemp("sdist")
    builder = out / "builder"
    subprocess.run([sys.executable, "-m", "venv", str(builder)], check=True, capture_output=True)
    subprocess.run([str(builder / "bin" / "pip"), "install", "-q", "build"], check=True,
                   capture_output=True)
    p = subprocess.run([str(builder / "bin" / "python"), "-m", "build", "--sdist", "--outdir",
                        str(out / "dist"), ROOT], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    (found,) = glob.glob(str(out / "dist" / "python_debug-*.tar.gz"))
    return found
