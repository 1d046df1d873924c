/* pd_tsc.h - WITH_TSC's instruction timings: a cycle counter and, per
 * opcode, how many instructions ran and how many cycles they took.
 *
 * Each opcode keeps a count, a total and a histogram on a log scale (four
 * buckets per power of two), so a percentile costs nothing to record and
 * is known within a quarter of its value.  Not locked: the callers (the
 * instruction stream, pd_trace.h) hold the GIL.  No allocation: the table
 * is static. */
#ifndef PD_TSC_H
#define PD_TSC_H

#include <stdint.h>

#define PD_TSC_OPCODES 256

/* The CPU's time-stamp counter (rdtsc) where there is one; nanoseconds of
 * the monotonic clock elsewhere.  pd_tsc_unit() says which: "cycles" or
 * "ns". */
uint64_t pd_tsc_now(void);
const char *pd_tsc_unit(void);

/* One instruction of `opcode` took `cycles`. */
void pd_tsc_add(int opcode, uint64_t cycles);

typedef struct {
    uint64_t count;   /* instructions */
    uint64_t total;   /* cycles, summed */
    uint64_t p50;     /* median, from the histogram (within 25%) */
    uint64_t p99;     /* 99th percentile, likewise */
    uint64_t max;
} pd_tsc_row;

/* The row of one opcode (count 0: never ran). */
void pd_tsc_get(int opcode, pd_tsc_row *out);
/* The value under which a fraction q (0..1] of the samples of opcode lie. */
uint64_t pd_tsc_percentile(int opcode, double q);
void pd_tsc_reset(void);

#endif
