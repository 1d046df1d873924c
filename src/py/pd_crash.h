/* pd_crash.h - a fatal signal is a report too.  On SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL or SIGABRT: the C backtrace of the faulting thread,
 * whether the faulting address or a register holds one of our fill
 * patterns or points into a block we know (with that block's sites), and
 * the Python traceback of every thread; then the signal's default action,
 * so the exit status is what it would have been. */
#ifndef PD_CRASH_H
#define PD_CRASH_H

void pd_crash_install(void);

#endif
