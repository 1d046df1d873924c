"""python-debug from Python.

Everything in C (the debug allocator's checks and statistics, object
accounting) comes from the built-in module _pydebug of the python-debug
host; the parts written in Python - the leak hunter and its pytest plugin -
live beside this file."""
from _pydebug import *  # noqa: F401,F403
from _pydebug import __doc__ as _c_doc  # noqa: F401

from .leaks import LeakResult, leakcheck, leaks_begin, leaks_end  # noqa: F401
