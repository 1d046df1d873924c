"""The leak hunter on real test suites, side by side in one run.

For each interpreter given (default: the real binary behind `python3`), a
venv (build/venvs/bench-leaks-*) gets pytest, pytest-xdist and the
packages from PyPI; each package's tests come from its sdist (pip download
--no-binary :all:), copied out of the source tree so that the installed
extension is the one imported.  Suites: ujson's, markupsafe's and
simplejson's whole suites, and a fixed subset of numpy's installed tests
(NUMPY below).  Each suite is timed, interleaved, best of N:

    python                   python -m pytest
    python-debug --leaks     python-debug -m pytest --leaks (3:3)
    --leaks -n 2             the same with pytest-xdist's two workers

and the ratios to python are printed, with their geometric mean and the
number of tests reported leaking (from --leaks-report; a real suite
should have none).  Benchmarks are not tests: nothing here asserts.

    build/venv/bin/python bench/leaks.py [--repeat N] [--python PATH ...]
"""
import glob
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile

from bench import FRONT, parse_args, real_python3, timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", "bench-leaks")
PACKAGES = ["ujson", "markupsafe", "simplejson", "numpy"]  # numpy's conftest needs hypothesis
# suite -> (package, the tests folder inside its sdist)
SDIST_SUITES = {"ujson": ("ujson", "tests"), "markupsafe": ("markupsafe", "tests"),
                "simplejson": ("simplejson", "simplejson/tests")}
# numpy's installed tests: a fixed subset (the whole suite takes long)
NUMPY = ["numpy/_core/tests/test_numerictypes.py",
         "numpy/lib/tests/test_arraysetops.py", "numpy/lib/tests/test_shape_base.py"]


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit("bench: %s failed:\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p.stdout


def venv_for(py):
    venv = os.path.join(ROOT, "build", "venvs", "bench-leaks-" + py.strip("/").replace("/", "-"))
    exe = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, "ready")):
        run([py, "-m", "venv", "--clear", venv])
        run([exe, "-m", "pip", "install", "-q", "pytest", "pytest-xdist", "hypothesis", *PACKAGES])
        open(os.path.join(venv, "ready"), "w").close()
    return exe


def version(exe, pkg):
    return run([exe, "-c", "import importlib.metadata as m; print(m.version(%r))" % pkg]).strip()


def suites_for(exe):
    """suite name -> (folder to run in, pytest arguments)."""
    out = {}
    for name, (pkg, inner) in SDIST_SUITES.items():
        ver = version(exe, pkg)
        dest = os.path.join(WORK, "%s-%s" % (name, ver))
        if not os.path.isdir(dest):
            dl = os.path.join(WORK, "sdists")
            os.makedirs(dl, exist_ok=True)
            run([exe, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
                 "-d", dl, "%s==%s" % (pkg, ver)])
            sdist = next(f for f in glob.glob(os.path.join(dl, "*.tar.gz"))
                         if os.path.basename(f).lower().startswith("%s-%s" % (pkg, ver)))
            with tarfile.open(sdist) as t:
                top = t.getnames()[0].split("/")[0]
                members = [m for m in t.getmembers() if m.name.startswith(top + "/" + inner + "/")]
                t.extractall(os.path.join(WORK, "tmp"), members=members)
            # named <suite>_tests, not after the package: a tests folder
            # with an __init__.py would otherwise be imported as the package
            os.makedirs(dest)
            shutil.move(os.path.join(WORK, "tmp", top, inner), os.path.join(dest, name + "_tests"))
        out["%s %s" % (name, ver)] = (dest, [name + "_tests"])
    site = run([exe, "-c", "import numpy, os; print(os.path.dirname(os.path.dirname(numpy.__file__)))"])
    out["numpy %s (%d modules)" % (version(exe, "numpy"), len(NUMPY))] = (
        WORK, [os.path.join(site.strip(), f) for f in NUMPY])
    return out


def main():
    args = parse_args()
    os.makedirs(WORK, exist_ok=True)
    for py in args.python or [real_python3()]:
        exe = venv_for(py)
        base = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pydebug.pytest"]
        rows = []
        for name, (cwd, targets) in suites_for(exe).items():
            report = os.path.join(WORK, "leaks.json")
            modes = [("python", [exe, "-m", "pytest", "-q", "-p", "no:cacheprovider", *targets]),
                     ("--leaks", [FRONT, "--python", exe, *base, "--leaks",
                                  "--leaks-report", report, *targets]),
                     ("--leaks -n 2", [FRONT, "--python", exe, *base, "--leaks", "-n", "2",
                                       *targets])]
            best = {m: float("inf") for m, _ in modes}
            for _ in range(args.repeat):
                for m, cmd in modes:
                    best[m] = min(best[m], timed_any(cmd, cwd))
            res = json.load(open(report))
            rows.append((name, len(res), sum(r["leaked"] for r in res), best))
        print("\n%s: best of %d" % (py, args.repeat))
        print("%-28s %6s %6s %9s %9s %7s %12s %7s" % ("suite", "tests", "leaks", "python s",
                                                   "--leaks s", "ratio", "-n 2 s", "ratio"))
        for name, n, leaked, b in rows:
            print("%-28s %6d %6d %9.2f %9.2f %6.1fx %12.2f %6.1fx" % (
                name, n, leaked, b["python"], b["--leaks"], b["--leaks"] / b["python"],
                b["--leaks -n 2"], b["--leaks -n 2"] / b["python"]))
        for m in ("--leaks", "--leaks -n 2"):
            g = math.exp(sum(math.log(b[m] / b["python"]) for _, _, _, b in rows) / len(rows))
            print("geometric mean, %s: %.1fx" % (m, g))


def timed_any(cmd, cwd):
    """timed(), in cwd; a suite's own failures (exit 1) still count: what
    is timed is the run, and the leak column says what --leaks found."""
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return timed(cmd, ok=(0, 1))
    finally:
        os.chdir(here)


if __name__ == "__main__":
    main()
