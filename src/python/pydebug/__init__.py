"""python-debug from Python.

Everything in C (the debug allocator's checks and statistics, object
accounting) comes from the built-in module _pydebug of the python-debug
host; the parts written in Python - the leak hunter and its pytest plugin -
live beside this file.  Outside python-debug (plain python) only the
pytest plugin's options and the children's re-execution work."""
import contextlib as _contextlib

try:
    import _pydebug
except ImportError:
    # Plain python, where the package is installed: its pytest plugin
    # registers itself (and says how to run --leaks), and children of a
    # program under python-debug re-execute under it (_follow.py).
    _pydebug = None
else:
    from _pydebug import *  # noqa: F401,F403
    from _pydebug import __doc__ as _c_doc  # noqa: F401

    from .leaks import LeakResult, leakcheck, leaks_begin, leaks_end  # noqa: F401


@_contextlib.contextmanager
def guarded():
    """Guard every allocation this thread makes inside the block: each goes
    to a guarded slot (up to a page; while the pool has room), so a read or
    write after free, or past either end, faults at the instruction and is
    reported with the block's allocation and free sites."""
    _pydebug._guard_scope(True)
    try:
        yield
    finally:
        _pydebug._guard_scope(False)
