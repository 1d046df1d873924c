"""The leak hunter: the pytest plugin and pydebug.leakcheck() find each of
six ways C code leaks (tests/ext/pdleaky.c), name the C function that
allocated what leaked, classify C leaks as orphans and a leak in Python as
reachable with its referrer chain, and report no clean or cache test."""
import json
import re
import os
import subprocess

import pytest

from conftest import FRONT, ROOT

SUITE = os.path.join(ROOT, "tests", "data", "leaky_suite")

# leaking test -> (type leaked, C function named by its allocation site)
C_LEAKS = {
    "test_lk_new_reference": ("str", "lk_new_reference"),
    "test_lk_error_path": ("list", "error_path"),
    "test_lk_container_insert": ("float", "container_insert"),
    "test_lk_extra_return": ("tuple", "lk_extra_return"),
    "test_lk_leaked_key": ("str", "dict_key"),
    "test_lk_dealloc": ("bytes", "make_holder"),
}
# leaks a reference to an object that was there before: only the total grows
EXISTING = "test_lk_existing_reference"
OTHER_LEAKS = {"test_python_level_leak", EXISTING}
CLEAN = ["test_ok_new_reference", "test_ok_error_path", "test_ok_container_insert",
         "test_ok_extra_return", "test_ok_leaked_key", "test_ok_dealloc",
         "test_cache_fills_while_warming_up", "test_ok_harness_growth"]


def flat(objects):
    """The sample with what each object keeps alive, in one list."""
    out = []
    for o in objects:
        out.append(o)
        out += flat(o.get("contents", []))
    return out


def run_plugin(py, venv_python, ext_dir, tmp_path, *pytest_args, extra=(), suite=SUITE):
    report = tmp_path / "leaks.json"
    env = dict(os.environ, PYTHONPATH=ext_dir)
    proc = subprocess.run(
        [FRONT, "--python", venv_python, *extra, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "pydebug.pytest", "--leaks", "--leaks-report", str(report), *pytest_args, suite],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=900)
    results = {r["name"].split("::")[-1]: r for r in json.loads(report.read_text())} \
        if report.exists() else {}
    return proc, results


def test_plugin_finds_every_leak(py, venv_python, ext_dir, tmp_path):
    proc, res = run_plugin(py, venv_python, ext_dir, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    leaking = {name for name, r in res.items() if r["leaked"]}
    assert leaking == set(C_LEAKS) | OTHER_LEAKS, proc.stdout
    # the summary: one line per leaking test, then the details
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("LEAK ")]
    assert {ln.split("::")[-1].split(":")[0] for ln in lines} == leaking, proc.stdout
    assert proc.stdout.index(lines[-1]) < proc.stdout.index(" leaked: [", proc.stdout.index(
        "python-debug leaks (3:3)")), proc.stdout
    for name in CLEAN:
        assert not res[name]["leaked"], res[name]
    for name, (tname, cfunc) in C_LEAKS.items():
        r = res[name]
        # the first measured run may still move by one (3.13); the others grow
        assert r["leaked"] and all(d >= 1 for d in r["refs"][1:]), r
        # exactly the one object per run the C code leaks: none of the
        # state pytest replaces each run (logging capture's lists of
        # records, which CPython's free list puts back at the same address)
        assert r["by_type"].get(tname) == 1, r
        # an orphan of the leaked type, allocated by the C function
        assert any(o["type_name"] == tname and o["kind"] == "orphan"
                   for o in r["objects"]), (name, r)
        assert any(o["site"] and "C caller:  %s (" % cfunc in o["site"]
                   for o in flat(r["objects"])), (name, r)
        assert "FAILED" in proc.stdout and name in proc.stdout
    r = res[EXISTING]
    # the first measured run may still move by more (3.11)
    assert r["refs"][1:] == [1, 1] and all(b <= 0 for b in r["blocks"]), r
    assert EXISTING + " leaked: [" in proc.stdout, proc.stdout
    r = res["test_python_level_leak"]
    # a bytearray per run (from 3.15 on, its buffer is a bytes object of
    # its own, which leaks with it)
    assert r["by_type"].get("bytearray") == 1.0 and set(r["by_type"]) <= {"bytearray", "bytes"}, r
    held = [o for o in r["objects"] if o["kind"] == "reachable" and o["chain"]]
    assert held and held[0]["chain"][-1] == "module test_leaky, global '_hoard'", r
    assert "test_leaky.py" in held[0]["site"], r


# Which run of a test is its leak check's warm-up: pytest's own, unless the
# test is the last of its class or module (whose reported run tears down
# the wider fixtures, so it comes after the check's runs).
ORDER_SUITE = """
import pdleaky

_runs = {"clean": 0}


def test_clean_counted():
    _runs["clean"] += 1


def test_sees_two_runs():
    assert _runs["clean"] == 2  # the reported run, then the screened one


def test_leaks_mid_module():
    pdleaky.lk_new_reference()


class TestLast:
    def test_first(self):
        pass

    def test_leaks_last_of_module(self):
        pdleaky.lk_new_reference()
"""


def test_plugin_warm_up_is_the_reported_run(py, venv_python, ext_dir, tmp_path):
    suite = tmp_path / "order"
    suite.mkdir()
    (suite / "test_order.py").write_text(ORDER_SUITE)
    proc, res = run_plugin(py, venv_python, ext_dir, tmp_path, "-rA", suite=str(suite))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert any(ln.startswith("PASSED ") and ln.endswith("::test_sees_two_runs")
               for ln in proc.stdout.splitlines()), proc.stdout
    leaking = {name for name, r in res.items() if r["leaked"]}
    assert leaking == {"test_leaks_mid_module", "test_leaks_last_of_module"}, proc.stdout
    for name in leaking:
        assert res[name]["by_type"].get("str") == 1, res[name]
        assert any(ln.startswith("FAILED ") and ln.split(" ")[1].endswith("::" + name)
                   for ln in proc.stdout.splitlines()), proc.stdout
    assert len(res) == 5, res


# Each process of the run writes down, at its end, whether its allocator
# stepped aside.
ASIDE_PROBE = """
import os, _pydebug
AT_IMPORT = _pydebug.allocator_stats()["aside"]  # loaded (-p) before pytest configures
def pytest_sessionfinish(session):
    role = "worker" if hasattr(session.config, "workerinput") else "controller"
    st = _pydebug.allocator_stats()
    with open(os.path.join(%r, "aside-%%s-%%d" %% (role, os.getpid())), "w") as f:
        f.write("%%s %%s %%s %%s" %% (role, AT_IMPORT, st["aside"], st["adopted_objects"] > 1000))
"""


def test_plugin_under_xdist_one_summary(py, venv_python, ext_dir, tmp_path):
    """-n 2: every worker runs under python-debug and checks its tests; the
    controller prints one summary and writes every test's result.  The
    controller, which runs no test, steps its allocator aside; the workers
    start aside and step in at their first test, adopting what was made
    before (they found every leak above, a leaked reference to an object
    made at collection included)."""
    (tmp_path / "aside_probe.py").write_text(ASIDE_PROBE % str(tmp_path))
    proc, res = run_plugin(py, venv_python, ext_dir, tmp_path, "-n", "2", "-p", "aside_probe")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert len(res) == len(C_LEAKS) + len(CLEAN) + len(OTHER_LEAKS), res
    assert {n for n, r in res.items() if r["leaked"]} == set(C_LEAKS) | OTHER_LEAKS
    assert proc.stdout.count("python-debug leaks (3:3)") == 1, proc.stdout
    assert "[gw" in proc.stdout  # the workers' reports
    roles = sorted(p.read_text() for p in tmp_path.glob("aside-*"))
    assert roles == ["controller True True False", "worker True False True",
                     "worker True False True"], roles
    # blocks the controller made before stepping aside were freed after it,
    # by us: no report of a bad free or of damage
    assert "==python-debug== ERROR" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("how", ["argv", "addopts", "none"])
def test_plugin_start_up_aside(py, venv_python, ext_dir, tmp_path, how):
    """python-debug -m pytest --leaks starts aside (pytest's import and the
    plugins' run on the interpreter's allocator) and steps in at the first
    test, adopting what was made; --leaks from PYTEST_ADDOPTS steps aside
    when pytest configures; without --leaks nothing steps aside, and a
    leak-free clean test is all the run has."""
    (tmp_path / "aside_probe.py").write_text(ASIDE_PROBE % str(tmp_path))
    suite = tmp_path / "one"
    suite.mkdir()
    (suite / "test_one.py").write_text(
        "import pdleaky\n_existing = object()\n"
        "def test_leaks_existing():\n    pdleaky.leak(_existing, 1)\n")
    env = dict(os.environ, PYTHONPATH="%s:%s" % (ext_dir, tmp_path))
    leaks = ["--leaks"] if how == "argv" else []
    if how == "addopts":
        env["PYTEST_ADDOPTS"] = "--leaks"
    proc = subprocess.run(
        [FRONT, "--python", venv_python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "pydebug.pytest", "-p", "aside_probe", *leaks, str(suite)],
        capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=900)
    roles = [p.read_text() for p in tmp_path.glob("aside-*")]
    want = {"argv": "controller True False True", "addopts": "controller False False True",
            "none": "controller False False False"}[how]
    assert roles == [want], (roles, proc.stdout, proc.stderr)
    # the reference leaked to an object made at collection is found
    assert proc.returncode == (0 if how == "none" else 1), proc.stdout + proc.stderr
    assert "==python-debug== ERROR" not in proc.stderr, proc.stderr


FEATURES_SUITE = os.path.join(ROOT, "tests", "data", "feature_suite")
# feature_suite's tests (clean, each using one pytest feature that keeps
# something per run) by the name the results give them
FEATURES = [
    "test_features.square",  # a doctest (doctest empties its namespace after each run)
    "test_print", "test_stderr_write", "test_capsys", "test_capfd", "test_capsysbinary",
    "test_caplog", "test_logging_warning", "test_logging_exception",
    "test_recwarn", "test_pytest_warns", "test_warning_not_caught",
    "test_filterwarnings_mark", "test_filterwarnings_error",
    "test_tmp_path", "test_tmpdir", "test_tmp_path_factory", "test_monkeypatch",
    "test_parametrized[a-1]", "test_parametrized[b-3]", "test_parametrized_objects[dict]",
    "test_method", "test_class_fixture", "test_uses_shared",
    "test_assertions", "test_subtest", "test_unittest_skip", "test_addcleanup",
    "test_fixtures_of_every_scope", "test_yield_fixture", "test_addfinalizer",
    "test_skip_inside", "test_xfail_inside", "test_xfail_mark", "test_skipif_mark",
    "test_raises_match", "test_approx", "test_request_node", "test_record_property",
    "test_doctest_like", "test_timeout_mark", "test_hypothesis_given",
]


_FEATURE_RUNS = {}  # interpreter id -> (proc, results)


@pytest.fixture
def feature_run(py, venv_python, ext_dir, tmp_path_factory):
    """The feature suite under --leaks, once per interpreter.  Cached by
    hand: pytest orders the tests by interpreter across modules, so a
    module- or session-scoped fixture would be made again at each switch.
    No report: every test below fails on its missing result (and the
    failed run is not made again for each)."""
    if py["id"] not in _FEATURE_RUNS:
        _FEATURE_RUNS[py["id"]] = run_plugin(
            py, venv_python, ext_dir, tmp_path_factory.mktemp("features"),
            "--doctest-modules", "-rA", suite=FEATURES_SUITE)
    return _FEATURE_RUNS[py["id"]]


def test_pytest_features_run_as_under_pytest(feature_run):
    """Every feature test gets its plain verdict: nothing fails because it
    ran several times (a doctest whose namespace was emptied, a subtest
    counted once per run) and no test leaks."""
    proc, res = feature_run
    leaked = {n for n, r in res.items() if r["leaked"]}
    assert not leaked, leaked
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert set(FEATURES) <= set(res), sorted(set(FEATURES) - set(res))
    assert "SUBFAIL" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("name", FEATURES)
def test_pytest_feature_is_not_a_leak(feature_run, name):
    """What pytest keeps per run of a test (output and log sections, user
    properties, a subtest's reports, warnings, finalizers) is not counted."""
    proc, res = feature_run
    assert name in res, proc.stdout + proc.stderr
    r = res[name]
    assert not r["leaked"] and r["error"] is None, r


LEAKED_TUPLE = """import json, pdleaky, pydebug
r = pydebug.leakcheck(pdleaky.lk_extra_return)
print(r.report())
print(json.dumps(r.as_dict()))
"""


def test_leak_report_leads_with_the_root(run):
    """lk_extra_return leaks a tuple holding a new float: the tuple, which
    nothing holds, comes first, with what it keeps alive under it."""
    r = run(LEAKED_TUPLE)
    assert r.rc == 0, r
    res = json.loads(r.out.splitlines()[-1])
    assert res["leaked"], res
    top = res["objects"]  # one tuple of each measured run
    assert [o["type_name"] for o in top] == ["tuple"] * 3, res
    for o in top:
        assert o["kind"] == "orphan" and o["keeps"].get("float") == 1, res
        inner = o["contents"]
        assert [i["type_name"] for i in inner] == ["float"], res
        assert inner[0]["kind"] == "reachable", res
    text = r.out.split("\n{", 1)[0]
    assert "keeps alive: 1 float" in text, r
    assert re.search(r"\n      float at 0x[0-9a-f]+: 1\.5 \(reachable", text), r


def test_leaked_tuple_names_its_birth_site(run, py):
    """A tuple may come from CPython's free list, born in a block an older
    tuple was allocated in.  Where the reference tracer tells of births
    (3.13.3+; 3.14+ turns the free lists off) the tuple's site is the
    extension function that built it; elsewhere it is marked possibly
    stale."""
    r = run(LEAKED_TUPLE)
    res = json.loads(r.out.splitlines()[-1])
    site = res["objects"][0]["site"]
    if tuple(py["ver"]) >= (3, 13, 3):
        assert "C caller:  lk_extra_return (" in site, r
        assert "possibly stale" not in site, r
    else:
        assert "possibly stale: a tuple may be taken from CPython's free list" in site, r


def test_plugin_without_the_debug_allocator(py, venv_python, ext_dir, tmp_path):
    """-X malloc=objects: the same verdicts, figures marked approximate."""
    proc, res = run_plugin(py, venv_python, ext_dir, tmp_path, extra=("-X", "malloc=objects"))
    leaking = {name for name, r in res.items() if r["leaked"]}
    assert leaking == set(C_LEAKS) | OTHER_LEAKS, proc.stdout + proc.stderr
    assert any("allocation sites" in a for a in res["test_lk_new_reference"]["approximate"])


def test_plugin_bad_option(py, venv_python, tmp_path):
    proc = subprocess.run([FRONT, "--python", venv_python, "-m", "pytest", "-p",
                           "pydebug.pytest", "--leaks=x", SUITE],
                          capture_output=True, text=True, cwd=str(tmp_path))
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "expected WARMUP:REPEAT" in proc.stderr, proc.stderr


LEAKCHECK = """
import pydebug, pdleaky
bad = pydebug.leakcheck(pdleaky.lk_new_reference, warmup=2, repeat=4)
good = pydebug.leakcheck(pdleaky.ok_new_reference, warmup=2, repeat=4)
cache = pydebug.leakcheck(pdleaky.cached_lookup)
print(bad.leaked, bad.refs[1:], bad.blocks, good.leaked, cache.leaked)
print(bad.objects[0].kind, "lk_new_reference" in bad.objects[0].site)
print(bad.report().splitlines()[0])
"""


def test_leakcheck(run):
    r = run(LEAKCHECK)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    # the first measured run may still move by one (3.13: references; 3.14:
    # blocks, a block freed earlier in the run taken again); every later one
    # grows
    assert re.fullmatch(r"True \[1, 1, 1\] \[[01], 1, 1, 1\] False False", lines[0]), r
    assert lines[1] == "orphan True", r
    assert lines[2].startswith("lk_new_reference leaked: ["), r


THREADED = """
import threading, pydebug, pdleaky
stop, go, done = threading.Event(), threading.Event(), threading.Event()
def other():  # blocked (no timeout: it must not wake by itself), or makes
    while True:  # and frees objects while a run waits for it
        go.wait()
        go.clear()
        if stop.is_set():
            return
        junk = [object() for _ in range(10)]
        del junk
        done.set()
t = threading.Thread(target=other)
t.start()
def busy(f):
    def run():
        f()
        go.set()
        done.wait()
        done.clear()
    return run
for f in (pdleaky.lk_new_reference, pdleaky.ok_new_reference,
          busy(pdleaky.lk_new_reference), busy(pdleaky.ok_new_reference)):
    r = pydebug.leakcheck(f, warmup=1, repeat=1)
    print(r.leaked, r.error, r.cleared, r.runs, len(r.refs))
stop.set()
go.set()
t.join()
"""


def test_leakcheck_screen_while_another_thread_runs(run):
    """With another thread alive, the screen measures one run if that
    thread allocated and freed nothing during it, two if it did (it could
    have freed what the run made), also when REPEAT is 1; either way a leak
    is found and a clean function cleared."""
    r = run(THREADED)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0].split()[:2] == ["True", "None"], r      # idle thread
    assert lines[1].split() == ["False", "None", "True", "2", "1"], r
    assert lines[2].split()[:2] == ["True", "None"], r      # busy thread
    assert lines[3].split() == ["False", "None", "True", "4", "2"], r


INTERNED = """
import itertools, sys, pydebug
n = itertools.count()
kept = {}
def new_name():  # as pathlib does with a new numbered tmp_path folder
    sys.intern("name%d" % next(n))
def kept_name():  # a real leak that interns its keys
    kept[sys.intern("key%d" % next(n))] = object()
for f in (new_name, kept_name):
    r = pydebug.leakcheck(f)
    print(f.__name__, r.leaked, r.interned, r.error)
    print(r.report())
"""


def test_leakcheck_interned_strings_kept_forever_are_not_a_leak(run):
    """A string CPython interns and keeps forever (3.12 does so for every
    sys.intern(); pathlib interns each new tmp_path folder's name) is not a
    leak; what grows besides it still is."""
    r = run(INTERNED)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    name, leaked, interned, err = lines[0].split()
    assert (name, leaked, err) == ("new_name", "False", "None"), r
    if float(interned):  # the interpreter made it immortal
        assert float(interned) == 1 and "1 interned strings CPython keeps forever" in lines[1], r
    kept = next(i for i, ln in enumerate(lines) if ln.startswith("kept_name "))
    assert lines[kept].split()[1::2] == ["True", "None"], r
    assert "kept_name leaked" in lines[kept + 1] and "object" in r.out, r


CALLED_BACK = """
import gc, pydebug, pdleaky
class Inner:
    pass
class Outer:
    def __init__(self):
        self.inner = Inner()
pdleaky.leak_new("instance", 1, Outer)
outer = next(o for o in gc.get_objects() if type(o) is Outer)
made = []
pdleaky.leak_new("instance", 1, lambda: made.append(Inner()))
print(pydebug.allocation_site(outer))
print("INNER")
print(pydebug.allocation_site(outer.inner))
print("LAMBDA")
print(pydebug.allocation_site(made[0]))
"""


def test_site_below_the_eval_loop(run):
    """The C caller a site names is C code the innermost Python frame
    called: what Python code makes when an extension calls it back is not
    put on that extension (the stack scan stops at the eval loop's frame;
    without that stop every interpreter here named make() for the Inner
    made in the lambda, and 3.11 for the one in Outer.__init__)."""
    r = run(CALLED_BACK)
    assert r.rc == 0, r
    outer, rest = r.out.split("INNER")
    inner, lam = rest.split("LAMBDA")
    assert "C caller:  make (" in outer and ", in <module>" in outer, r
    assert ", in Outer.__init__" in inner, r
    assert ", in <lambda>" in lam, r
    for site in (inner, lam):
        assert "pdleaky" not in site and "make (" not in site, r


PROGRAM = os.path.join(ROOT, "tests", "data", "leaky_program.py")


@pytest.mark.parametrize("rounds", [5, 0])
def test_whole_program(run, rounds, tmp_path):
    """python-debug -m pydebug leaks -- SCRIPT: growth between the two
    points the program marks."""
    report = tmp_path / "r.json"
    # full C stacks: the cheap "C caller" is a scan of the stack that can
    # pick up a stale return address (here: the call just before)
    r = run(None, "stacks=16", args=["-m", "pydebug", "leaks", "--report", str(report), "--",
                                     PROGRAM, str(rounds)])
    assert r.out == "rounds %d\n" % rounds, r
    res = json.loads(report.read_text())
    if rounds:
        assert r.rc == 1 and res["leaked"], r
        assert res["by_type"] == {"str": 5.0}, r
        assert all(o["kind"] == "orphan" and " dict_key (" in o["site"]
                   for o in res["objects"]), r
    else:
        assert r.rc == 0 and not res["leaked"], r
        assert "no leak" in r.err, r


def test_whole_program_without_marks(run):
    r = run(None, args=["-m", "pydebug", "leaks", "--", "-c", "pass"])
    assert r.rc == 2, r
    r = run(None, args=["-m", "pydebug", "leaks", "--", "-m", "json.tool", "--help"])
    assert r.rc == 2 and "never called pydebug.leaks_begin()" in r.err, r
