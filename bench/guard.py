"""Guard pages' cost, side by side in one run.

For each workload in workloads.py and each interpreter given (default: the
real binary behind `python3`), time
    python                                     the interpreter as it is
    python-debug -X malloc=off                 the launcher alone
    python-debug -X malloc=off -X guard        sampled, the default rate
    python-debug -X malloc=off -X guard=100    sampled, one in 100
    python-debug -X malloc=off -X guard=all    every allocation up to a page
    valgrind (memcheck), PYTHONMALLOC=malloc   the usual way to find the same bugs
each N times interleaved (valgrind once), keep the best, and print ratios
to python plus peak RSS.  Benchmarks are not tests: nothing here asserts.

    build/venv/bin/python bench/guard.py [--repeat N] [--python PATH ...] [--no-valgrind]
"""
import argparse
import math
import shutil
import subprocess
import sys

from bench import FRONT, NAMES, real_python3, run_once


def modes(py, valgrind):
    off = [FRONT, "--python", py, "-X", "malloc=off"]
    ms = [("python", [py], {}, True),
          ("malloc=off", off, {}, True),
          ("guard (default rate)", off + ["-X", "guard"], {}, True),
          ("guard=100", off + ["-X", "guard=100"], {}, True),
          ("guard=all", off + ["-X", "guard=all"], {}, True)]
    if valgrind and shutil.which("valgrind"):
        ms.append(("valgrind memcheck", ["valgrind", "-q", "--undef-value-errors=no", "--error-exitcode=0", py],
                   {"PYTHONMALLOC": "malloc"}, False))
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", action="append")
    ap.add_argument("--no-valgrind", action="store_true")
    args = ap.parse_args()
    for py in args.python or [real_python3()]:
        ms = modes(py, not args.no_valgrind)
        subprocess.run([FRONT, "--python", py, "-c", "pass"], check=True)  # build the host
        best = {(m, n): (math.inf, 0.0) for m, _, _, _ in ms for n in NAMES}
        for i in range(args.repeat):
            for n in NAMES:
                for m, cmd, env, again in ms:
                    if i and not again:
                        continue
                    dt, rss = run_once(cmd, env, n)
                    b = best[(m, n)]
                    best[(m, n)] = (min(b[0], dt), max(b[1], rss))
                    print("  %s %s %.2fs" % (n, m, dt), file=sys.stderr, flush=True)
        print("\n%s  (best of %d, valgrind once; time ratio to python; peak RSS MiB)"
              % (py, args.repeat))
        print("%-10s %8s %6s" % ("workload", "python s", "RSS") +
              "".join("%26s" % m for m, _, _, _ in ms[1:]))
        geo = {m: 0.0 for m, _, _, _ in ms}
        for n in NAMES:
            base, base_rss = best[("python", n)]
            row = "%-10s %8.3f %5.0fM" % (n, base, base_rss)
            for m, _, _, _ in ms[1:]:
                t, rss = best[(m, n)]
                geo[m] += math.log(t / base)
                row += "%18.3fx %6.0fM" % (t / base, rss)
            print(row)
        print("%-10s %8s %6s" % ("geomean", "", "") +
              "".join("%18.3fx %7s" % (math.exp(geo[m] / len(NAMES)), "")
                      for m, _, _, _ in ms[1:]))


if __name__ == "__main__":
    main()
