"""Children follow (src/py/pd_follow.h): a child Python process that a
program under python-debug starts - subprocess with sys.executable,
multiprocessing's fork, spawn and forkserver, concurrent.futures'
ProcessPoolExecutor, pytest-xdist's workers - runs under python-debug with
the parent's options.  A child's bug is reported with the child's pid and
its own sites, on stderr and as one JSON line in the shared -X report file;
a clean child is under python-debug and reports nothing; -X follow=off
gives plain children."""
import json
import os
import re

import pytest

CHILD = '''import os, sys


def work(bug):
    print("child pid=%d under=%s" % (os.getpid(), "_pydebug" in sys.builtin_module_names),
          flush=True)
    import pdbuggy
    if bug:
        pdbuggy.double_free(1)
    else:
        pdbuggy.clean()


if __name__ == "__main__":
    work(sys.argv[1] == "bug")
'''
BUG_LINE = 9

PARENT = '''import concurrent.futures as cf, multiprocessing as mp, os, subprocess, sys
import childmod

if __name__ == "__main__":
    way, bug = sys.argv[1], sys.argv[2] == "bug"
    if way == "subprocess":
        subprocess.run([sys.executable, childmod.__file__, sys.argv[2]], check=False)
    elif way == "pool":
        with cf.ProcessPoolExecutor(1) as ex:
            ex.submit(childmod.work, bug).result()
    else:
        p = mp.get_context(way).Process(target=childmod.work, args=(bug,))
        p.start()
        p.join()
    print("parent pid=%d" % os.getpid(), flush=True)
'''

WAYS = ["subprocess", "fork", "spawn", "forkserver", "pool"]


@pytest.fixture
def family(run, tmp_path):
    (tmp_path / "childmod.py").write_text(CHILD)
    (tmp_path / "parent.py").write_text(PARENT)

    def _run(way, what, *xopts):
        env = {"PYTHONPATH": str(tmp_path)}
        return run(None, "on_error=continue", "report=report.json", *xopts,
                   args=[str(tmp_path / "parent.py"), way, what], env=env, cwd=str(tmp_path))
    return _run


def pids(out, who):
    return [int(p) for p in re.findall(r"^%s pid=(\d+)" % who, out, re.M)]


def json_reports(tmp_path):
    path = tmp_path / "report.json"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("way", WAYS)
def test_child_bug_is_reported_with_its_pid_and_sites(family, tmp_path, way):
    r = family(way, "bug")
    child = pids(r.out, "child")
    assert len(child) == 1 and "under=True" in r.out, r
    assert pids(r.out, "parent") != child, r
    err = r.err
    assert "==python-debug== ERROR: double free" in err, r
    assert "detected at (pid %d, thread " % child[0] in err, r
    alloc = err.split("allocated by", 1)[1]
    assert "C caller:  double_free (" in alloc and "pdbuggy.c:" in alloc, r
    assert 'childmod.py", line %d, in work' % BUG_LINE in alloc, r
    freed = err.split("freed by", 1)[1]
    assert "C caller:  double_free (" in freed, r
    # The shared file: one whole JSON object per line, the child's among them.
    reps = [x for x in json_reports(tmp_path) if x["bug"] == "double-free"]
    assert [x["pid"] for x in reps] == child, r
    assert 'childmod.py", line %d' % BUG_LINE in reps[0]["allocated"]["python"], reps


@pytest.mark.parametrize("way", WAYS)
def test_clean_child_follows_silently(family, tmp_path, way):
    r = family(way, "clean")
    assert r.rc == 0, r
    assert len(pids(r.out, "child")) == 1 and "under=True" in r.out, r
    assert "==python-debug==" not in r.err, r
    assert json_reports(tmp_path) == []


@pytest.mark.parametrize("way", [w for w in WAYS if w not in ("fork", "pool")])
def test_follow_off_gives_plain_children(family, tmp_path, way):
    r = family(way, "clean", "follow=off")
    assert r.rc == 0, r
    assert len(pids(r.out, "child")) == 1 and "under=False" in r.out, r
    assert "==python-debug==" not in r.err, r


def test_fork_child_is_the_parent_under_python_debug(family):
    """A forked child is a copy of this process: it is under python-debug
    whatever -X follow says."""
    r = family("fork", "clean", "follow=off")
    assert r.rc == 0 and "under=True" in r.out, r


def test_options_reach_the_child(run, tmp_path):
    code = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'import sys; print(sorted(k for k in sys._xoptions if k in (\"quarantine\", \"stacks\")))'])")
    r = run(code, "quarantine=0", "stacks=8")
    assert r.rc == 0 and "['quarantine', 'stacks']" in r.out, r


def test_follow_bad_value(run):
    r = run("pass", "follow=maybe")
    assert r.rc == 2 and "-X follow: expected on or off" in r.err, r


XDIST_SUITE = '''import os


def test_bug(tmp_path_factory):
    import pdbuggy
    with open(os.path.join(os.environ["PD_PIDS"], "bug"), "w") as f:
        f.write(str(os.getpid()))
    pdbuggy.double_free(1)


def test_clean():
    import pdbuggy
    pdbuggy.clean()
'''


def test_xdist_workers_follow(py, venv_python, ext_dir, tmp_path):
    import subprocess
    from conftest import FRONT
    (tmp_path / "test_x.py").write_text(XDIST_SUITE)
    env = dict(os.environ, PYTHONPATH=ext_dir, PD_PIDS=str(tmp_path))
    proc = subprocess.run(
        [FRONT, "--python", venv_python, "-X", "on_error=continue", "-X", "report=report.json",
         "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2", "test_x.py"],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600)
    worker = int((tmp_path / "bug").read_text())
    reps = [x for x in json_reports(tmp_path) if x["bug"] == "double-free"]
    assert [x["pid"] for x in reps] == [worker], proc.stdout + proc.stderr
    assert 'test_x.py", line 8, in test_bug' in reps[0]["allocated"]["python"], reps
