"""Guard pages' cost, side by side in one run.

For each workload in workloads.py and each interpreter given (default: the
real binary behind `python3`), time
    python                                     the interpreter as it is
    python-debug -X malloc=off                 the launcher alone
    python-debug -X malloc=off -X guard        sampled, the default rate
    python-debug -X malloc=off -X guard=100    sampled, one in 100
    python-debug -X malloc=off -X guard=all    every allocation up to a page
    valgrind (memcheck), PYTHONMALLOC=malloc   the usual way to find the same bugs
each N times interleaved (guard=all and valgrind once: they take minutes),
keep the best, and print ratios
to python plus peak RSS.  Benchmarks are not tests: nothing here asserts.

    build/venv/bin/python bench/guard.py [--repeat N] [--python PATH ...] [--no-valgrind]
                                         [--sampled-only] [--instructions]

--instructions counts what python, the launcher and the sampled mode
execute with callgrind instead: on this machine wall times of the same
command vary by 10% and more, more than the sampled mode costs.
"""
import argparse
import glob
import math
import os
import shutil
import subprocess
import sys
import tempfile

from bench import FRONT, NAMES, WORK, real_python3, run_once


def modes(py, valgrind, slow=True):
    off = [FRONT, "--python", py, "-X", "malloc=off"]
    ms = [("python", [py], {}, True),
          ("malloc=off", off, {}, True),
          ("guard (default rate)", off + ["-X", "guard"], {}, True),
          ("guard=100", off + ["-X", "guard=100"], {}, True),
          ("guard=all", off + ["-X", "guard=all"], {}, False)]
    if not slow:
        return ms[:-1]
    if valgrind and shutil.which("valgrind"):
        ms.append(("valgrind memcheck", ["valgrind", "-q", "--undef-value-errors=no", "--error-exitcode=0", py],
                   {"PYTHONMALLOC": "malloc"}, False))
    return ms


def instructions(cmd, env, name):
    """Instructions the run executes in user space, counted by callgrind
    (repeatable where wall time on this machine varies by 10% or more; the
    kernel's share - a guarded allocation's system calls - is not in it)."""
    with tempfile.TemporaryDirectory() as d:
        e = dict(os.environ, **env)
        subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                        "--callgrind-out-file=%s/cg.%%p" % d] + cmd + [WORK, name],
                       env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        total = 0
        for f in glob.glob(os.path.join(d, "cg.*")):
            with open(f) as fh:
                for line in fh:
                    if line.startswith("summary:"):
                        total += int(line.split()[1])
        return total


def instruction_table(py):
    ms = [m for m in modes(py, False, False) if m[0] != "guard=100"]
    print("\n%s  (instructions, callgrind; ratio to python)" % py)
    print("%-10s %14s" % ("workload", "python") + "".join("%24s" % m[0] for m in ms[1:]))
    geo = {m[0]: 0.0 for m in ms}
    for n in NAMES:
        base = instructions(ms[0][1], ms[0][2], n)
        row = "%-10s %14d" % (n, base)
        for m, cmd, env, _ in ms[1:]:
            r = instructions(cmd, env, n) / base
            geo[m] += math.log(r)
            row += "%23.3fx" % r
        print(row, flush=True)
    print("%-10s %14s" % ("geomean", "") +
          "".join("%23.3fx" % math.exp(geo[m[0]] / len(NAMES)) for m in ms[1:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", action="append")
    ap.add_argument("--no-valgrind", action="store_true")
    ap.add_argument("--sampled-only", action="store_true",
                    help="leave out guard=all and valgrind (minutes each)")
    ap.add_argument("--instructions", action="store_true",
                    help="count instructions with callgrind instead of timing (sampled modes)")
    args = ap.parse_args()
    for py in args.python or [real_python3()]:
        if args.instructions:
            subprocess.run([FRONT, "--python", py, "-c", "pass"], check=True)
            instruction_table(py)
            continue
        ms = modes(py, not args.no_valgrind, not args.sampled_only)
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
        print("\n%s  (best of %d, guard=all and valgrind once; time ratio to python; "
              "peak RSS MiB)"
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
