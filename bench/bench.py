"""python-debug's allocator cost, side by side in one run.

For each workload in workloads.py and each interpreter given (default: the
real binary behind `python3`), time
    python                       the interpreter as it is
    PYTHONMALLOC=debug python    CPython's own debug hooks
    python -X tracemalloc        CPython's way of knowing where blocks come from
    python-debug                 our debug allocator (defaults)
    python-debug -X quarantine=0 the same without the quarantine
    python-debug -X quarantine=4M with four times the default quarantine
    python-debug -X stacks=16    plus a full C backtrace per allocation
    python-debug -X malloc=objects  object accounting over pymalloc, no
                                 debug allocator
    floor: hooks only            a host built to hand every call straight
                                 to pymalloc: what hooking costs
    floor: sites only            the same, after capturing each call's site
                                 as python-debug does: what knowing where
                                 costs before any check (see README)
    floor: sites + debug hooks   the sites-only host over PYTHONMALLOC=debug:
                                 CPython's own checks plus knowing where,
                                 with no registry and no quarantine
each N times interleaved, keep the best, and print ratios to python plus
peak RSS.  Benchmarks are not tests: nothing here asserts.

    build/venv/bin/python bench/bench.py [--repeat N] [--python PATH ...]
    sh tools/sid-root.sh run python3 bench/bench.py --python /usr/bin/python3.14
"""
import argparse
import glob
import math
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FRONT = os.path.join(ROOT, "build", "bin", "python-debug")
WORK = os.path.join(HERE, "workloads.py")
NAMES = ["alloc", "calls", "json", "regex", "strings"]


def real_python3():
    out = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def default_pythons():
    """The real binary behind `python3`, and the CPython 3.13 that
    tools/build-cpython.sh built, when there is one."""
    pys = [real_python3()]
    cache = os.environ.get("PYDEBUG_CACHE") or os.path.expanduser("~/.cache/python-debug")
    pys += sorted(glob.glob(os.path.join(cache, "cpython-3.13.*[0-9]", "bin", "python3")))
    return pys


def floor_host(py, level):
    """A host built with -DPD_BENCH_FLOOR=level (src/py/pd_hooks.c) for py,
    run directly: it checks nothing, so the front end never uses one."""
    key = "".join(c if c.isalnum() else "_" for c in os.path.realpath(py))
    hostdir = os.path.join(ROOT, "build", "bench-hosts", key, "floor%d" % level)
    subprocess.run([py, "-I", os.path.join(ROOT, "src", "python", "pydebug", "_hostbuild.py"),
                    os.path.join(ROOT, "src"), hostdir],
                   env=dict(os.environ, PYDEBUG_HOST_CFLAGS="-DPD_BENCH_FLOOR=%d" % level),
                   stdout=subprocess.DEVNULL, check=True)
    return os.path.join(hostdir, "python-debug-host")


def modes(py, only=None):
    """(name, command, environment) of each mode; `only` names those to keep
    (python always, first).  Floor hosts are built only when kept."""
    floor_env = {"PYDEBUG_EXECUTABLE": py}
    floors = only is None or any(m.startswith("floor") for m in only)
    ms = [
        ("python", [py], {}),
        ("PYTHONMALLOC=debug", [py], {"PYTHONMALLOC": "debug"}),
        ("python -X tracemalloc", [py, "-X", "tracemalloc"], {}),
        ("python-debug", [FRONT, "--python", py], {}),
        ("python-debug quarantine=0", [FRONT, "--python", py, "-X", "quarantine=0"], {}),
        ("python-debug quarantine=4M", [FRONT, "--python", py, "-X", "quarantine=4M"], {}),
        ("python-debug stacks=16", [FRONT, "--python", py, "-X", "stacks=16"], {}),
        ("python-debug malloc=objects", [FRONT, "--python", py, "-X", "malloc=objects"], {}),
    ]
    if floors:
        ms += [
            ("floor: hooks only", [floor_host(py, 2)], floor_env),
            ("floor: sites only", [floor_host(py, 1)], floor_env),
            ("floor: sites + debug hooks", [floor_host(py, 1)],
             dict(floor_env, PYTHONMALLOC="debug")),
        ]
    if only is not None:
        unknown = only - {m for m, _, _ in ms} - {"python"}
        if unknown:
            sys.exit("bench: no mode %s" % ", ".join(sorted(unknown)))
        ms = [x for x in ms if x[0] == "python" or x[0] in only]
    return ms


def parse_args():
    """The options every bench script takes."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--python", action="append")
    ap.add_argument("--modes", help="comma-separated mode names to run (python is always "
                    "run: the ratios are to it), e.g. 'PYTHONMALLOC=debug,python-debug'")
    return ap.parse_args()


def timed(cmd, ok=(0,)):
    """Seconds for one run of cmd, its output discarded; exits on a status
    not in ok."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if p.returncode not in ok:
        sys.exit("bench: %s failed (status %d)" % (" ".join(cmd), p.returncode))
    return time.perf_counter() - t0


def run_once(cmd, env, name):
    e = dict(os.environ, **env)
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd + [WORK, name], env=e, stdout=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        raise SystemExit("bench: %s %s failed (status %d)" % (" ".join(cmd), name, status))
    return dt, ru.ru_maxrss / 1024.0


def main():
    args = parse_args()
    only = set(args.modes.split(",")) if getattr(args, "modes", None) else None
    for py in args.python or [real_python3()]:
        ms = modes(py, only)
        subprocess.run([FRONT, "--python", py, "-c", "pass"], check=True)  # build the host
        best = {(m, n): (math.inf, 0.0) for m, _, _ in ms for n in NAMES}
        for _ in range(args.repeat):
            for n in NAMES:
                for m, cmd, env in ms:
                    dt, rss = run_once(cmd, env, n)
                    b = best[(m, n)]
                    best[(m, n)] = (min(b[0], dt), max(b[1], rss))
        print("\n%s  (best of %d, time ratio to python; peak RSS MiB)" % (py, args.repeat))
        print("%-10s %10s" % ("workload", "python s") +
              "".join("%28s" % m for m, _, _ in ms[1:]))
        geo = {m: 0.0 for m, _, _ in ms}
        for n in NAMES:
            base = best[("python", n)][0]
            row = "%-10s %10.3f" % (n, base)
            for m, _, _ in ms[1:]:
                t, rss = best[(m, n)]
                geo[m] += math.log(t / base)
                row += "%20.2fx %5.0fM" % (t / base, rss)
            print(row)
        print("%-10s %10s" % ("geomean", "") +
              "".join("%20.2fx %6s" % (math.exp(geo[m] / len(NAMES)), "") for m, _, _ in ms[1:]))


if __name__ == "__main__":
    main()
