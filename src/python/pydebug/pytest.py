"""pytest plugin: which test leaks, what leaked, and where it was allocated.

    python-debug -m pytest --leaks[=WARMUP:REPEAT] tests/

Installed with python-debug, the plugin registers itself (entry point
pytest11 "pydebug.pytest"); from a checkout, add -p pydebug.pytest.  Without
--leaks it does nothing.  Under pytest-xdist (-n N) every worker runs
under python-debug (children follow) and checks its own tests; each
test's result travels to the controller on its report, and the controller
prints the one summary and writes --leaks-report.

Each test runs WARMUP times, then REPEAT times (default 3:3), setup and
teardown of its function-scoped fixtures included; a test leaks when the
references (or the memory blocks) grew in every measured run.  A leaking
test fails, with the leaked objects by type and a sample of them: their
allocation site (C function and Python line) and whether they are orphans
(an extra reference nobody holds: a missing Py_DECREF) or reachable (with
the chain of referrers).  --leaks-report=FILE writes every test's result
as JSON."""
import functools
import json
import warnings

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("pydebug", "python-debug leak hunter")
    group.addoption("--leaks", nargs="?", const="3:3", default=None, metavar="WARMUP:REPEAT",
                    help="run each test WARMUP then REPEAT times and fail the tests whose "
                         "references or blocks grow in every measured run (default 3:3)")
    group.addoption("--leaks-report", default=None, metavar="FILE",
                    help="write each test's leak check as JSON to FILE")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # A bare --leaks means 3:3; an optional value would swallow the next
    # argument (a test path), so give it its value before options are parsed.
    args[:] = ["--leaks=3:3" if a == "--leaks" else a for a in args]


def _parse(spec):
    try:
        warmup, repeat = (int(x) for x in spec.split(":"))
    except ValueError:
        raise pytest.UsageError("--leaks=%s: expected WARMUP:REPEAT, e.g. 3:3" % spec)
    if warmup < 0 or repeat < 1:
        raise pytest.UsageError("--leaks=%s: WARMUP must be >= 0 and REPEAT >= 1" % spec)
    return warmup, repeat


def pytest_configure(config):
    spec = config.getoption("--leaks")
    if spec is None:
        if config.getoption("--leaks-report"):
            raise pytest.UsageError("--leaks-report needs --leaks")
        _step_in()  # started aside for a --leaks that is not ours
        return
    try:
        import _pydebug
    except ImportError:
        raise pytest.UsageError("--leaks needs python-debug: run python-debug -m pytest --leaks ...")
    if _pydebug.accounting()["objects"] == "unavailable":
        raise pytest.UsageError("--leaks needs -X malloc=on (the default) or -X malloc=objects")
    # The hooks that do the work exist only with --leaks: without it the
    # plugin adds nothing to a test's run.
    config.pluginmanager.register(_LeakHunter(config, _parse(spec)), "pydebug-leak-hunter")
    # Start-up and collection need no checking: the interpreter's own
    # allocator makes them, and the debug allocator steps back in at the
    # first test (_step_in).  python-debug started `-m pytest --leaks` and
    # the xdist workers aside already; --leaks from PYTEST_ADDOPTS or an
    # ini file steps aside here.
    if _pydebug.active:
        _pydebug._step_aside()


def _step_in():
    """The debug allocator back, if it stood aside: python-debug starts
    `-m pytest --leaks` aside, and the leak hunter's start-up and
    collection run so (see _pydebug._step_in).  A full collection first
    empties CPython's free lists, whose objects would otherwise come back
    to life unseen."""
    try:
        import _pydebug
    except ImportError:
        return
    if _pydebug.active and _pydebug.allocator_stats()["aside"]:
        import gc
        gc.collect()
        _pydebug._step_in()


def _is_function_finish(f):
    """A finalizer pytest put on a wider-scoped fixture to finish a
    function-scoped one set up on top of it."""
    fn = getattr(f, "func", None)
    return (isinstance(f, functools.partial) and getattr(fn, "__name__", "") == "finish"
            and getattr(getattr(fn, "__self__", None), "scope", None) == "function")


def _wider_finalizers(item):
    """The finalizer lists of the fixtures wider than a function: pytest
    adds to them, each time a function-scoped fixture that depends on one is
    set up, a finalizer it keeps until the wider fixture ends - a growth of
    the harness, one per run.  [(list, ids present now)]"""
    info = getattr(item, "_fixtureinfo", None)
    out = []
    for fds in getattr(info, "name2fixturedefs", {}).values():
        for fd in fds:
            fins = getattr(fd, "_finalizers", None)
            if isinstance(fins, list) and getattr(fd, "scope", "function") != "function":
                out.append((fins, set(map(id, fins))))
    return out


class _RunState:
    """What pytest keeps of one run of a test, for the run's own report,
    and drops only when the next test's report is made: the output and
    log sections captured (print, logging, caplog), the user properties
    (record_property), the reports a subtest logs itself (pytest's
    terminal statistics), the failed-subtest count, the finalizers left on
    wider fixtures.  A run the leak hunter makes is not reported: after
    each, all of these are put back as they were before the first, so the
    test is measured, not the harness.  A doctest's namespace, which
    doctest empties after each run, is put back before each."""

    def __init__(self, item, globs=None):
        self.item = item
        self.wider = _wider_finalizers(item)
        self.sections = len(getattr(item, "_report_sections", ()))
        self.props = len(getattr(item, "user_properties", ()))
        tr = item.config.pluginmanager.get_plugin("terminalreporter")
        self.stats = getattr(tr, "stats", None)
        self.stat_lens = {k: len(v) for k, v in self.stats.items()} \
            if isinstance(self.stats, dict) else {}
        self.subtests = _failed_subtests(item.config)
        self.failed_subtests = self.subtests.get(item.nodeid) \
            if self.subtests is not None else None
        dtest = getattr(item, "dtest", None)
        self.globs = globs if globs is not None else \
            dict(dtest.globs) if dtest is not None else None

    def before(self):
        if self.globs is not None:
            self.item.dtest.globs.update(self.globs)

    def after(self):
        item = self.item
        del item._report_sections[self.sections:]
        del item.user_properties[self.props:]
        if isinstance(self.stats, dict):
            for k in list(self.stats):
                if k in self.stat_lens:
                    del self.stats[k][self.stat_lens[k]:]
                else:
                    del self.stats[k]
        if self.subtests is not None:
            if self.failed_subtests is None:
                self.subtests.pop(item.nodeid, None)
            else:
                self.subtests[item.nodeid] = self.failed_subtests
        # What the run left on wider fixtures for fixtures already finished.
        for fins, before in self.wider:
            fins[:] = [f for f in fins if id(f) in before or not _is_function_finish(f)]


def _failed_subtests(config):
    """pytest 9's count of failed subtests per test, or None."""
    try:
        from _pytest.subtests import failed_subtests_key
    except ImportError:
        return None
    return config.stash.get(failed_subtests_key, None)


class _LeakHunter:
    """--leaks: each test checked in the process that runs it; every
    test's result collected from the reports (this process's own, or the
    workers' on the xdist controller) and summed up once."""

    def __init__(self, config, spec):
        self.config = config
        self.spec = spec
        self.pending = {}   # nodeid -> LeakResult, until its report carries it
        self.results = {}   # nodeid -> the result as on the report (dicts)
        self.hidden = False  # in one of the runs the leak hunter makes
        self.stepped_in = False  # the debug allocator back for the tests
        from . import leaks  # needs _pydebug: only under python-debug
        self.leaks = leaks
        leaks.many_checks(True)

    def pytest_unconfigure(self):
        self.leaks.many_checks(False)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_setupnodes(self, config, specs):
        # The xdist controller: it runs no test, its workers do (each under
        # python-debug, children follow).  What it allocates from now on -
        # the workers' reports, its own bookkeeping - goes to the
        # interpreter's allocator: checked, it cost as much CPU as a worker
        # checks tests with, on the same cores.
        import os
        import _pydebug
        if _pydebug.active:
            _pydebug._step_aside()
            # The workers start aside (the python-debug host takes this
            # out of their environment): their start-up and collection
            # need no checking either.
            os.environ["PYDEBUG_ASIDE"] = "1"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(self, item, nextitem):
        from _pytest.runner import runtestprotocol

        if not self.stepped_in:
            self.stepped_in = True
            _step_in()

        warmup, repeat = self.spec
        failed = []
        state = _RunState(item)

        def one_run():
            # nextitem=the parent: tear down what this test set up for
            # itself (function-scoped fixtures, finalizers a plugin added,
            # such as the nose plugin's), keep the module and class around
            # it.  With nextitem=item its finalizers would pile up, one
            # more each run.  The warnings each run emits go to a list of
            # its own, dropped after it: pytest's own capture would keep
            # every run's, a growth of the harness, not of the code under
            # test.
            state.before()
            self.hidden = True
            try:
                with warnings.catch_warnings(record=True):
                    for rep in runtestprotocol(item, nextitem=item.parent, log=False):
                        if rep.failed:
                            failed.append(rep)
            finally:
                self.hidden = False
                state.after()

        if nextitem is not None and nextitem.listchain()[:-1] == item.listchain()[:-1]:
            # The run that counts comes first and is the check's warm-up:
            # a clean test costs two runs, not three.  Its teardown is then
            # the same whether it stops at the next test or at the parent
            # (the next test shares every wider fixture), and its reports
            # wait for the check, which the call's report carries.
            item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
            reports = runtestprotocol(item, nextitem=nextitem, log=False)
            state = _RunState(item, globs=state.globs)  # as pytest left it
            result = self.leaks.check_after_run(one_run, warmup, repeat, item.nodeid)
            if failed:
                result.error = failed[0]
            del state, failed
            calls = [r for r in reports if r.when == "call"]
            if calls:
                _attach(calls[0], result)  # logged below: pytest_runtest_logreport
            else:  # no call phase (its setup failed or skipped)
                self.results[item.nodeid] = _as_report(result)
            for rep in reports:
                item.ihook.pytest_runtest_logreport(report=rep)
            item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
            return True
        # The last test of its module or class: the run that counts tears
        # down wider fixtures, so it comes after the check's runs.
        result = self.leaks.leakcheck(one_run, warmup=warmup, repeat=repeat, name=item.nodeid)
        if failed:
            result.error = failed[0]
        self.pending[item.nodeid] = result
        # The run that counts: logged, with the leak attached to its report.
        state.before()
        del state, failed
        item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        runtestprotocol(item, nextitem=nextitem, log=True)
        # No call phase (its setup failed): no report carried it.
        result = self.pending.pop(item.nodeid, None)
        if result is not None:
            self.results[item.nodeid] = _as_report(result)
        item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
        return True

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if call.when != "call" or self.hidden:
            return  # a run of ours
        rep = outcome.get_result()
        if getattr(rep, "context", None) is not None:
            return  # a subtest's report (pytest 9's, pytest-subtests')
        result = self.pending.pop(item.nodeid, None)
        if result is not None:
            _attach(rep, result)

    def pytest_runtest_logreport(self, report):
        leaks = getattr(report, "pydebug_leaks", None)
        if isinstance(leaks, dict):
            self.results[report.nodeid] = leaks

    def pytest_terminal_summary(self, terminalreporter):
        if hasattr(self.config, "workerinput"):  # an xdist worker: the controller sums up
            return
        leaking = [r for r in self.results.values() if r["leaked"]]
        terminalreporter.section("python-debug leaks (%d:%d)" % self.spec)
        if not leaking:
            terminalreporter.write_line("no test leaked (%d checked)" % len(self.results))
        else:
            # One line per leaking test for a CI log to grep, then the details.
            terminalreporter.write_line("%d of %d tests leaked:" % (len(leaking), len(self.results)))
            for r in leaking:
                terminalreporter.write_line("LEAK " + _one_line(r["result"]))
            terminalreporter.write_line("")
        for r in leaking:
            terminalreporter.write_line(r["report"])
        path = self.config.getoption("--leaks-report")
        if path:
            with open(path, "w") as f:
                json.dump([r["result"] for r in self.results.values()], f, indent=1)


def _one_line(res):
    """nodeid: references and blocks per run, and the types left most."""
    types = sorted(res["by_type"].items(), key=lambda kv: -kv[1])[:3]
    return "%s: %s references, %s blocks per run%s" % (
        res["name"], res["refs"], res["blocks"],
        "; " + ", ".join("%s %g" % kv for kv in types) if types else "")


def _attach(rep, result):
    """A test's leak check on the report of its call: a leak fails a test
    that passed.  A plain attribute of JSON values: pytest-xdist sends it
    with the report from the worker to the controller."""
    if result.leaked and rep.passed:
        rep.outcome = "failed"
        rep.longrepr = result.report()
    rep.pydebug_leaks = _as_report(result)


def _as_report(result):
    return {"leaked": bool(result.leaked), "report": result.report() if result.leaked else "",
            "result": result.as_dict()}
