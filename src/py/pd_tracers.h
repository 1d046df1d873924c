/* pd_tracers.h - the consumers of the instruction stream (pd_trace.h):
 * LLTRACE's lines, CALL_PROFILE's counters, WITH_TSC's timings.  Called by
 * the stream, GIL held, in this order for each instruction: tsc_before,
 * lltrace, calls, tsc_after (so the time our own work takes is not
 * charged to the instruction). */
#ifndef PD_TRACERS_H
#define PD_TRACERS_H

#include <stdint.h>
#include <stdio.h>

#include "pd_trace.h"

/* LLTRACE: one line per instruction on stderr.  With only_marked, just
 * frames whose globals hold a true __lltrace__. */
void pd_lltrace_insn(const pd_insn *ev, int only_marked);

/* CALL_PROFILE: the 11 counters. */
enum {
    PD_PCALL_ALL, PD_PCALL_FUNCTION, PD_PCALL_FAST_FUNCTION, PD_PCALL_FASTER_FUNCTION,
    PD_PCALL_METHOD, PD_PCALL_BOUND_METHOD, PD_PCALL_CFUNCTION, PD_PCALL_TYPE,
    PD_PCALL_GENERATOR, PD_PCALL_OTHER, PD_PCALL_POP, PD_PCALL_N
};
void pd_callstats_insn(const pd_insn *ev);
/* A frame of code starts or resumes running. */
void pd_callstats_frame(PyCodeObject *code);
void pd_callstats_get(uint64_t out[PD_PCALL_N]);

/* WITH_TSC. */
void pd_tsc_before(uint64_t now);
void pd_tsc_after(int opcode, uint64_t entered);
/* Account the calling thread's last instruction now (the stream stops). */
void pd_tsc_flush(void);
void pd_tsc_set_dump(int lines);
/* The per-opcode table, sorted by total time, on out. */
void pd_tsc_print_summary(FILE *out);

#endif
