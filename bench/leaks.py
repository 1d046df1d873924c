"""What the leak hunter's pytest plugin adds per test, in one run.

For each interpreter given (default: the real binary behind `python3`),
run tests/data/small_suite (200 small tests) under python-debug with
pytest, plain and with `--leaks=5:5` (each test run 5 + 5 times, then once
more for the report), with the debug allocator and with -X malloc=objects,
best of N; print seconds, the ratio to the plain run and the time added
per test.  Needs pytest in the interpreter (a venv is made in build/venvs/
like the tests do).  Benchmarks are not tests: nothing here asserts.

    build/venv/bin/python bench/leaks.py [--repeat N] [--python PATH ...]
"""
import os
import subprocess

from bench import FRONT, parse_args, real_python3, timed

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUITE = os.path.join(ROOT, "tests", "data", "small_suite")
NTESTS = 200


def venv_with_pytest(py):
    venv = os.path.join(ROOT, "build", "venvs", "bench-" + py.strip("/").replace("/", "-"))
    exe = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, "ready")):
        subprocess.run([py, "-m", "venv", "--clear", venv], check=True)
        subprocess.run([exe, "-m", "pip", "install", "-q", "pytest"], check=True)
        open(os.path.join(venv, "ready"), "w").close()
    return exe


def main():
    args = parse_args()
    for py in args.python or [real_python3()]:
        exe = venv_with_pytest(py)
        base = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "pydebug.pytest", SUITE]
        rows = []
        for label, x in [("debug allocator", []), ("-X malloc=objects", ["-X", "malloc=objects"])]:
            plain = [FRONT, "--python", exe, *x, *base]
            leaks = plain + ["--leaks=5:5"]
            tp = tl = float("inf")
            for _ in range(args.repeat):
                tp = min(tp, timed(plain))
                tl = min(tl, timed(leaks))
            rows.append((label, tp, tl))
        print("\n%s: %d small tests, best of %d" % (py, NTESTS, args.repeat))
        print("%-20s %10s %12s %8s %14s" % ("python-debug", "plain s", "--leaks=5:5", "ratio",
                                           "added per test"))
        for label, tp, tl in rows:
            print("%-20s %10.2f %12.2f %7.1fx %11.1f ms" % (label, tp, tl, tl / tp,
                                                         (tl - tp) / NTESTS * 1e3))


if __name__ == "__main__":
    main()
