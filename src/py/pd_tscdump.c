/* pd_tscdump.c - WITH_TSC: each instruction's time, from the CPU's
 * time-stamp counter, as the debug build printed it,
 *
 *   opcode=100 t=0 inst=000040 loop=000512
 *
 * and aggregated per opcode (src/core/pd_tsc.c) for pydebug.tscstats().
 *
 * An instruction's time runs from the moment our hook hands it back to
 * the interpreter to the moment the next instruction of the same thread
 * reaches the hook: inst is that, without our own work; loop is from hook
 * to hook, with it.  So a call's time includes the callee's set-up up to
 * its first instruction.  t=1 when another thread ran in between (the
 * "ticker fired": the interpreter switched threads).  Each line is written
 * when the next instruction arrives, or when timing stops. */
#include <Python.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pd_tracers.h"
#include "../core/pd_sys.h"
#include "../core/pd_tsc.h"

static int dump_lines;
static unsigned long last_tid;

static _Thread_local struct {
    int pending;          /* an instruction waits for its end */
    int opcode;
    uint64_t entered;     /* when its event reached the hook */
    uint64_t left;        /* when the hook handed it back */
    unsigned long tid;
} me;

void pd_tsc_set_dump(int lines) { dump_lines = lines; }

static void finish(uint64_t now)
{
    if (!me.pending)
        return;
    me.pending = 0;
    uint64_t inst = now - me.left, loop = now - me.entered;
    pd_tsc_add(me.opcode, inst);
    if (dump_lines) {
        unsigned long tid = me.tid;
        char line[96];
        int n = snprintf(line, sizeof line, "opcode=%d t=%d inst=%06" PRIu64 " loop=%06" PRIu64 "\n",
                         me.opcode, last_tid != tid, inst, loop);
        fflush(stderr);
        ssize_t w = write(2, line, (size_t)n);
        (void)w;
    }
}

void pd_tsc_before(uint64_t now)
{
    if (me.tid == 0)
        me.tid = (unsigned long)pd_sys_tid();
    finish(now);
    last_tid = me.tid;
}

void pd_tsc_after(int opcode, uint64_t entered)
{
    me.pending = 1;
    me.opcode = opcode;
    me.entered = entered;
    me.left = pd_tsc_now();
}

void pd_tsc_flush(void) { finish(pd_tsc_now()); }

typedef struct {
    int opcode;
    pd_tsc_row row;
} op_row;

static int by_total(const void *a, const void *b)
{
    const op_row *x = a, *y = b;
    return x->row.total < y->row.total ? 1 : x->row.total > y->row.total ? -1 : 0;
}

void pd_tsc_print_summary(FILE *out)
{
    op_row rows[PD_TSC_OPCODES];
    int n = 0;
    uint64_t all = 0, count = 0;
    for (int op = 0; op < PD_TSC_OPCODES; op++) {
        pd_tsc_get(op, &rows[n].row);
        if (rows[n].row.count) {
            rows[n].opcode = op;
            all += rows[n].row.total;
            count += rows[n].row.count;
            n++;
        }
    }
    qsort(rows, (size_t)n, sizeof rows[0], by_total);
    fprintf(out, "python-debug tscdump: %" PRIu64 " instructions, %" PRIu64 " %s\n", count, all,
            pd_tsc_unit());
    fprintf(out, "%-28s %12s %16s %7s %10s %10s %10s\n", "opcode", "count", "total", "share", "mean",
            "median", "p99");
    for (int i = 0; i < n; i++) {
        const pd_tsc_row *r = &rows[i].row;
        fprintf(out, "%-28s %12" PRIu64 " %16" PRIu64 " %6.2f%% %10.1f %10" PRIu64 " %10" PRIu64 "\n",
                pd_opname(rows[i].opcode), r->count, r->total, all ? 100.0 * (double)r->total / (double)all : 0.0,
                (double)r->total / (double)r->count, r->p50, r->p99);
    }
    fflush(out);
}
