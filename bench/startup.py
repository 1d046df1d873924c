"""The launcher's start-up cost, side by side in one run.

For each interpreter given (default: the real binary behind `python3`),
time `-c pass` under
    python                          the interpreter as it is
    python-debug -X malloc=off      the front end and the host, no allocator
    python-debug                    the same with the debug allocator
    a child, python -> python       subprocess.run([sys.executable, '-c', 'pass'])
    a child, python-debug -> child  the same under python-debug: the child follows
N times interleaved; print the median and the ratio to python.  With
--callgrind, also count the instructions of one run of each of the first
three (valgrind, children traced): wall time here is noisy.  Benchmarks
are not tests: nothing here asserts.

    build/venv/bin/python bench/startup.py [--repeat N] [--callgrind] [--python PATH ...]
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FRONT = os.path.join(ROOT, "build", "bin", "python-debug")
CHILD = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'pass'])"


def real_python3():
    out = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def modes(py):
    return [
        ("python -c pass", [py, "-c", "pass"]),
        ("python-debug -X malloc=off -c pass", [FRONT, "--python", py, "-X", "malloc=off", "-c", "pass"]),
        ("python-debug -c pass", [FRONT, "--python", py, "-c", "pass"]),
        ("python: a child", [py, "-c", CHILD]),
        ("python-debug: a child that follows", [FRONT, "--python", py, "-c", CHILD]),
    ]


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def instructions(cmd):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                        "--callgrind-out-file=" + os.path.join(d, "cg.%p")] + cmd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, PYTHONHASHSEED="0"), check=False)
        total = 0
        for name in os.listdir(d):
            text = open(os.path.join(d, name), errors="replace").read()
            m = re.search(r"^summary:\s*(\d+)", text, re.M) or re.search(r"^totals:\s*(\d+)", text, re.M)
            total += int(m.group(1)) if m else 0
        return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--callgrind", action="store_true")
    ap.add_argument("--python", action="append")
    a = ap.parse_args()
    for py in a.python or [real_python3()]:
        ms = modes(py)
        for _, cmd in ms:  # hosts built, caches warm
            timed(cmd)
        times = {name: [] for name, _ in ms}
        for _ in range(a.repeat):
            for name, cmd in ms:
                times[name].append(timed(cmd))
        base = statistics.median(times[ms[0][0]])
        child_base = statistics.median(times[ms[3][0]])
        print("%s: -c pass, median of %d, interleaved" % (py, a.repeat))
        for i, (name, _) in enumerate(ms):
            med = statistics.median(times[name])
            ref = base if i < 3 else child_base
            print("  %-38s %7.1f ms  %5.2fx" % (name, med * 1e3, med / ref))
        if a.callgrind:
            counts = [(name, instructions(cmd)) for name, cmd in ms[:3]]
            print("  instructions (callgrind, one run, children traced):")
            for name, n in counts:
                print("  %-38s %13s  %5.2fx" % (name, format(n, ","), n / counts[0][1]))


main()
