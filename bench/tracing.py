"""What interpreter tracing costs, side by side in one run.

For each interpreter given (default: the real binary behind `python3`, and
a CPython 3.13 built by tools/build-cpython.sh when there is one) and each
workload in workloads.py, time
    python                          the interpreter as it is
    launcher, all off               python-debug -X malloc=off: the launcher
                                    and the embedding host, no allocator, no
                                    tracing (target: within noise of python)
    callstats                       -X malloc=off -X callstats (CALL_PROFILE)
    tscdump=summary                 -X malloc=off -X tscdump=summary (WITH_TSC,
                                    every instruction timed, table at exit)
    lltrace                         -X malloc=off -X lltrace (every instruction
                                    of every frame printed; stderr to /dev/null)
each N times interleaved (lltrace once: it prints tens of millions of
lines), keep the best, print ratios to python.  Benchmarks are not tests:
nothing here asserts.

    build/venv/bin/python bench/tracing.py [--repeat N] [--python PATH ...]
"""
import math
import os
import subprocess

from bench import FRONT, NAMES, WORK, default_pythons, parse_args, timed


def modes(py):
    off = [FRONT, "--python", py, "-X", "malloc=off"]
    return [
        ("python", [py], True),
        ("launcher, all off", off, True),
        ("callstats", off + ["-X", "callstats"], True),
        ("tscdump=summary", off + ["-X", "tscdump=summary"], True),
        ("lltrace", off + ["-X", "lltrace"], False),
    ]


def main():
    args = parse_args()
    for py in args.python or default_pythons():
        subprocess.run([FRONT, "--python", py, "-c", "pass"], check=True)  # build the host
        ms = modes(py)
        best = {(m, n): math.inf for m, _, _ in ms for n in NAMES}
        for rep in range(args.repeat):
            for n in NAMES:
                for m, cmd, every in ms:
                    if every or rep == 0:
                        best[(m, n)] = min(best[(m, n)], timed(cmd + [WORK, n]))
        cols = [m for m, _, _ in ms[1:]]
        print("\n%s  (best of %d; lltrace: one run; time ratio to python)" % (py, args.repeat))
        print("%-10s %9s" % ("workload", "python s") + "".join("%19s" % c for c in cols))
        geo = {c: 0.0 for c in cols}
        for n in NAMES:
            base = best[("python", n)]
            row = "%-10s %9.3f" % (n, base)
            for c in cols:
                geo[c] += math.log(best[(c, n)] / base)
                row += "%18.2fx" % (best[(c, n)] / base)
            print(row)
        print("%-10s %9s" % ("geomean", "") +
              "".join("%18.2fx" % math.exp(geo[c] / len(NAMES)) for c in cols))


if __name__ == "__main__":
    main()
