/* pd_compat.h - the debug build's user interface, on any build:
 *
 *   -X sys-compat            sys.gettotalrefcount, sys.getobjects,
 *                            sys.getcounts (where the interpreter lacks
 *                            them), sys.getallocatedblocks counting our
 *                            blocks, and sys.pydebug = True, so tools that
 *                            look for a debug build (regrtest -R) work;
 *   -X showrefcount          "[N refs, M blocks]" on stderr before each
 *                            interactive prompt and at exit;
 *   PYTHONDUMPREFS=1 / -X dumprefs
 *                            "Remaining objects:" at exit, one line each;
 *   PYTHONCOUNTALLOCS=1 / -X countallocs
 *                            per-type counts on stderr at exit.
 *
 * Where the interpreter has a facility natively (a debug build's
 * showrefcount), the native one is left to do its job. */
#ifndef PD_COMPAT_H
#define PD_COMPAT_H

#include <Python.h>

/* After initialization, GIL held.  Returns -1 with an exception set. */
int pd_compat_start(PyObject *module);

/* Run at exit (atexit, while Python is alive). */
void pd_compat_exit_report(void);

#endif
