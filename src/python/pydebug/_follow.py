"""Children follow, the second way (src/py/pd_follow.h has the first).

pydebug_follow.pth, installed with the package, imports this module in
every interpreter start of an environment that has python-debug, when
PYDEBUG_FOLLOW is set: a program under python-debug started this process
by a way the host's exec interposers did not see (a shell in between, an
interpreter other than its own).  It re-executes the process under the
python-debug front end named there, with the parent's -X options and its
own command line (sys.orig_argv), before any of the program runs.  Under
the host already (a child the interposers caught, or python-debug itself)
it does nothing."""
import os
import sys


def _reexec():
    spec = os.environ.get("PYDEBUG_FOLLOW", "")
    if not spec or "_pydebug" in sys.builtin_module_names:
        return
    launcher, *opts = spec.split("\n")
    if not os.access(launcher, os.X_OK) or not sys.executable:
        return
    # --child: the words added and this process's own argv[0], so that
    # sys.orig_argv under python-debug is what it is here.
    argv = [launcher, "--python", sys.executable, "--child", str(2 * len(opts)),
            sys.orig_argv[0] if sys.orig_argv else sys.executable]
    for opt in opts:
        argv += ["-X", opt]
    argv += sys.orig_argv[1:]
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    os.execv(launcher, argv)


_reexec()
