/* pd_tsc.c - see pd_tsc.h.
 *
 * The histogram: values 0..3 have a bucket each; from 4 on, the bucket of
 * v is 4 * floor(log2 v) + the two bits below the leading one, so bucket
 * k >= 8 covers [(4 + k % 4) << (k / 4 - 2), (5 + k % 4) << (k / 4 - 2)).
 * 64-bit values need 4 * 64 buckets. */
#include "pd_tsc.h"

#include <string.h>
#include <time.h>

#define NBUCKETS (4 * 64)

typedef struct {
    uint64_t count, total, max;
    uint64_t hist[NBUCKETS];
} op_stats;

static op_stats ops[PD_TSC_OPCODES];

#if defined(__x86_64__) || defined(__i386__)
uint64_t pd_tsc_now(void) { return __builtin_ia32_rdtsc(); }
const char *pd_tsc_unit(void) { return "cycles"; }
#else
uint64_t pd_tsc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
const char *pd_tsc_unit(void) { return "ns"; }
#endif

static int bucket_of(uint64_t v)
{
    if (v < 4)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    return 4 * msb + (int)((v >> (msb - 2)) & 3);
}

/* The middle of bucket k. */
static uint64_t bucket_mid(int k)
{
    if (k < 4)
        return (uint64_t)k;
    int shift = k / 4 - 2;
    uint64_t lo = (uint64_t)(4 + k % 4) << shift;
    return lo + (((uint64_t)1 << shift) >> 1);
}

void pd_tsc_add(int opcode, uint64_t cycles)
{
    if (opcode < 0 || opcode >= PD_TSC_OPCODES)
        return;
    op_stats *s = &ops[opcode];
    s->count++;
    s->total += cycles;
    if (cycles > s->max)
        s->max = cycles;
    s->hist[bucket_of(cycles)]++;
}

uint64_t pd_tsc_percentile(int opcode, double q)
{
    if (opcode < 0 || opcode >= PD_TSC_OPCODES || ops[opcode].count == 0)
        return 0;
    const op_stats *s = &ops[opcode];
    uint64_t want = (uint64_t)(q * (double)s->count + 0.5);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (int k = 0; k < NBUCKETS; k++) {
        seen += s->hist[k];
        if (seen >= want) {
            uint64_t mid = bucket_mid(k);
            return mid > s->max ? s->max : mid;
        }
    }
    return s->max;
}

void pd_tsc_get(int opcode, pd_tsc_row *out)
{
    memset(out, 0, sizeof *out);
    if (opcode < 0 || opcode >= PD_TSC_OPCODES)
        return;
    out->count = ops[opcode].count;
    out->total = ops[opcode].total;
    out->max = ops[opcode].max;
    out->p50 = pd_tsc_percentile(opcode, 0.5);
    out->p99 = pd_tsc_percentile(opcode, 0.99);
}

void pd_tsc_reset(void) { memset(ops, 0, sizeof ops); }
