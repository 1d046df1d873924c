/* pd_follow.h - child processes follow the program under python-debug.
 *
 * A program under python-debug starts its children from sys.executable:
 * subprocess, multiprocessing (spawn, forkserver), concurrent.futures,
 * pytest-xdist's workers.  The host exports execv, execve, posix_spawn and
 * posix_spawnp; a call from the interpreter or an extension that starts
 * the very binary we stand for (same file, whatever link led to it) starts
 * the python-debug front end in its place, with `--python PATH` and this
 * process's own python-debug -X options in front of the child's arguments.
 * The child's first allocation is then ours, and it costs no second
 * interpreter start.
 *
 * Children reached any other way (a shell in between, another interpreter)
 * find PYDEBUG_FOLLOW in their environment: the front end's path, then one
 * -X option per line.  An interpreter with python-debug installed reads it
 * in pydebug_follow.pth (pydebug/_follow.py) and re-executes itself under
 * the front end before its first line of the program runs.
 *
 * Forked children (multiprocessing's fork) are this process already.
 * -X follow=off: none of this, and PYDEBUG_FOLLOW is removed from the
 * environment. */
#ifndef PD_FOLLOW_H
#define PD_FOLLOW_H

/* Arm (or, with on == 0, disarm) following.  launcher: the front end's
 * absolute path; exe: the interpreter as the program's sys.executable
 * names it; xopts: the n -X option values (without "-X") to pass on.
 * Call before the interpreter runs program code; returns 0, or -1 when
 * the interpreter binary cannot be identified (nothing is armed). */
int pd_follow_start(int on, const char *launcher, const char *exe,
                    const char *const *xopts, int n);

#endif
