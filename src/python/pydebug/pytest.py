"""pytest plugin: which test leaks, what leaked, and where it was allocated.

    python-debug -m pytest -p pydebug.pytest --leaks[=WARMUP:REPEAT] tests/

Each test runs WARMUP times, then REPEAT times (default 3:3), setup and
teardown of its function-scoped fixtures included; a test leaks when the
references (or the memory blocks) grew in every measured run.  A leaking
test fails, with the leaked objects by type and a sample of them: their
allocation site (C function and Python line) and whether they are orphans
(an extra reference nobody holds: a missing Py_DECREF) or reachable (with
the chain of referrers).  --leaks-report=FILE writes every test's result
as JSON."""
import json

import pytest

from .leaks import leakcheck

_KEY = pytest.StashKey()


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
        return
    try:
        import _pydebug
    except ImportError:
        raise pytest.UsageError("--leaks needs python-debug: python-debug -m pytest "
                                "-p pydebug.pytest --leaks ...")
    if _pydebug.accounting()["objects"] == "unavailable":
        raise pytest.UsageError("--leaks needs -X malloc=on (the default) or -X malloc=objects")
    config.stash[_KEY] = {"spec": _parse(spec), "results": {}}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    state = item.config.stash.get(_KEY, None)
    if state is None:
        return None
    from _pytest.runner import runtestprotocol
    warmup, repeat = state["spec"]
    failed = []

    def one_run():
        # nextitem=item: tear down only what this test set up for itself
        for rep in runtestprotocol(item, nextitem=item, log=False):
            if rep.failed:
                failed.append(rep)

    result = leakcheck(one_run, warmup=warmup, repeat=repeat, name=item.nodeid)
    if failed:
        result.error = failed[0]
    state["results"][item.nodeid] = result
    # The run that counts: logged, with the leak attached to its report.
    item.ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    runtestprotocol(item, nextitem=nextitem, log=True)
    item.ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    state = item.config.stash.get(_KEY, None)
    if state is None or call.when != "call":
        return
    result = state["results"].get(item.nodeid)
    rep = outcome.get_result()
    if result is not None and result.leaked and rep.passed:
        rep.outcome = "failed"
        rep.longrepr = result.report()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    state = config.stash.get(_KEY, None)
    if state is None:
        return
    leaking = [r for r in state["results"].values() if r.leaked]
    warmup, repeat = state["spec"]
    terminalreporter.section("python-debug leaks (%d:%d)" % (warmup, repeat))
    if not leaking:
        terminalreporter.write_line("no test leaked (%d checked)" % len(state["results"]))
    for r in leaking:
        terminalreporter.write_line(r.report())
    path = config.getoption("--leaks-report")
    if path:
        with open(path, "w") as f:
            json.dump([r.as_dict() for r in state["results"].values()], f, indent=1)
