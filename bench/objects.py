"""What object accounting costs, side by side in one run.

For each interpreter given (default: the real binary behind `python3`, and
a CPython >= 3.13.3 built by tools/build-cpython.sh when there is one) and
each workload in workloads.py, time
    python                            the interpreter as it is
    python3.11-dbg                    Debian's --with-pydebug build (Py_REF_DEBUG)
    refs      -X malloc=objects       what gettotalrefcount() and getobjects()
                                      need: pymalloc's arenas are known, large
                                      object blocks kept in a set
    refs+counts -X malloc=objects -X countallocs   (where the reference
                                      tracer is exact), else with the debug
                                      allocator (-X countallocs)
    all       -X countallocs          the debug allocator as well
each N times interleaved, keep the best; print ratios to python and to
python3.11-dbg.  "trace refs" (getobjects) costs nothing while the program
runs - it is a walk when asked - so the last table times one
gettotalrefcount() (and the best of five after it) and one getobjects()
over 100,000 live objects: in the debug heap, adopted from pymalloc after
stepping aside and back in (what the leak hunter's tests see of its
start-up), and under -X malloc=objects.
Benchmarks are not tests: nothing here asserts.

    build/venv/bin/python bench/objects.py [--repeat N] [--python PATH ...]
"""
import json
import math
import os
import subprocess


from bench import FRONT, NAMES, WORK, default_pythons, parse_args, timed

DBG = "/usr/bin/python3.11-dbg"
QUERY = """
import gc, json, time, _pydebug, pydebug
ASIDE = %s
if ASIDE:  # made on the interpreter's allocator, then adopted (the leak hunter's start-up)
    _pydebug._step_aside()
keep = [[i] for i in range(50000)]
if ASIDE:
    gc.collect()
    _pydebug._step_in()
t = time.perf_counter(); pydebug.gettotalrefcount(); total = time.perf_counter() - t
again = []  # later walks: the debug allocator knows by then which blocks hold objects
for _ in range(5):
    t = time.perf_counter(); pydebug.gettotalrefcount(); again.append(time.perf_counter() - t)
t = time.perf_counter(); n = len(pydebug.getobjects()); objs = time.perf_counter() - t
print(json.dumps({"live": n, "total_ms": total * 1e3, "again_ms": min(again) * 1e3,
                  "getobjects_ms": objs * 1e3,
                  "counts": pydebug.accounting()["counts"]}))
"""


def exact_tracer(py):
    out = subprocess.run([FRONT, "--python", py, "-X", "malloc=objects", "-c",
                          "import pydebug\ntry:\n    pydebug.getcounts()\n"
                          "except RuntimeError:\n    pass\n"
                          "print(pydebug.accounting()['counts'])"],
                         capture_output=True, text=True)
    return out.stdout.strip() == "tracer"


def modes(py):
    counts = (["-X", "malloc=objects", "-X", "countallocs"] if exact_tracer(py)
              else ["-X", "countallocs"])
    ms = [("python", [py])]
    if os.path.exists(DBG):
        ms.append(("python3.11-dbg", [DBG]))
    ms += [
        ("refs", [FRONT, "--python", py, "-X", "malloc=objects"]),
        ("refs+counts", [FRONT, "--python", py] + counts),
        ("all (debug allocator)", [FRONT, "--python", py, "-X", "countallocs"]),
    ]
    return ms


def main():
    args = parse_args()
    for py in args.python or default_pythons():
        subprocess.run([FRONT, "--python", py, "-c", "pass"], check=True)  # build the host
        ms = modes(py)
        best = {(m, n): math.inf for m, _ in ms for n in NAMES}
        for _ in range(args.repeat):
            for n in NAMES:
                for m, cmd in ms:
                    best[(m, n)] = min(best[(m, n)], timed(cmd + [WORK, n]))
        cols = [m for m, _ in ms[1:]]
        print("\n%s  (best of %d; time ratio to python / to python3.11-dbg)" % (py, args.repeat))
        print("%-10s %9s" % ("workload", "python s") + "".join("%24s" % c for c in cols))
        geo = {c: [0.0, 0.0] for c in cols}
        for n in NAMES:
            base = best[("python", n)]
            dbg = best.get(("python3.11-dbg", n))
            row = "%-10s %9.3f" % (n, base)
            for c in cols:
                t = best[(c, n)]
                geo[c][0] += math.log(t / base)
                if dbg:
                    geo[c][1] += math.log(t / dbg)
                row += "%15.2fx" % (t / base) + ("%7.2fx" % (t / dbg) if dbg else "%8s" % "")
            print(row)
        print("%-10s %9s" % ("geomean", "") + "".join(
            "%15.2fx" % math.exp(geo[c][0] / len(NAMES)) +
            ("%7.2fx" % math.exp(geo[c][1] / len(NAMES)) if ("python3.11-dbg", NAMES[0]) in best
             else "%8s" % "") for c in cols))
        print("\nqueries (best of %d):" % args.repeat)
        for label, x, aside in [("debug allocator", [], False),
                                ("adopted (aside, in)", [], True),
                                ("-X malloc=objects", ["-X", "malloc=objects"], False)]:
            runs = [json.loads(subprocess.run([FRONT, "--python", py, *x, "-c", QUERY % aside],
                                              capture_output=True, text=True, check=True).stdout)
                    for _ in range(args.repeat)]
            print("  %-18s %7d live objects: gettotalrefcount %6.1f ms (then %.1f ms), "
                  "getobjects %6.1f ms"
                  % (label, runs[0]["live"], min(r["total_ms"] for r in runs),
                     min(r["again_ms"] for r in runs), min(r["getobjects_ms"] for r in runs)))


if __name__ == "__main__":
    main()
