/* pd_report.h - one report format, text on stderr and JSON lines on the
 * report file.  The format is documented in README.md ("Reports").
 *
 * A report is built from a pd_bug: what happened, the block when we know
 * it, the damaged bytes, and the sites.  Emitting it also records where it
 * was detected: the C backtrace of the detecting thread and its Python
 * traceback.  Python-level descriptions come from hooks the glue sets. */
#ifndef PD_REPORT_H
#define PD_REPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "pd_core.h"

typedef enum {
    PD_BUG_OVERRUN,
    PD_BUG_UNDERRUN,
    PD_BUG_DOUBLE_FREE,
    PD_BUG_INVALID_FREE,
    PD_BUG_WRONG_DOMAIN,
    PD_BUG_REALLOC_FREED,
    PD_BUG_WRITE_AFTER_FREE,
    PD_BUG_CRASH,
    PD_BUG_READ_AFTER_FREE,
    PD_BUG_OVERREAD,
    PD_BUG_UNDERREAD,
    PD_BUG_OVER_RELEASE,
    PD_BUG_FREED_INCREF,
    PD_BUG_FREED_USE,
} pd_bug_kind;

typedef struct pd_bug {
    pd_bug_kind kind;
    const char *api;          /* API that detected it, e.g. "PyMem_Free" */
    uintptr_t ptr;            /* pointer the API was given */
    int have_block;
    pd_block_info block;
    /* Damage, relative to the user pointer (negative: front guard). */
    int have_damage;
    ptrdiff_t dmg_offset;
    size_t dmg_len;
    unsigned char found[16];
    size_t nfound;
    unsigned char expected;
    char detail[256];         /* one more sentence, may be empty */
    int64_t refs;             /* a freed object's count moved by this */
    const pd_site *now;       /* site of the detecting call, may be NULL;
                               * reported for a freed object's use */
    /* Crash reports only: C frames of the faulting thread, already taken. */
    void **crash_pcs;
    int crash_npcs;
} pd_bug;

typedef struct {
    /* "File "x.py", line 3, in f" for a recorded site; "" when none. */
    void (*describe_site)(const pd_site *s, char *buf, size_t len);
    /* The calling thread's Python traceback, one frame per line, most
     * recent call last, each line "File "...", line N, in NAME". */
    void (*traceback_now)(char *buf, size_t len);
    /* A recorded Python stack (-X stacks), one frame per line, most recent
     * call last, "" if none. */
    void (*describe_pystack)(uint32_t id, char *buf, size_t len);
    /* Type name of the object held by a block, "" if none or unknown. */
    void (*block_type)(const pd_block_info *b, char *buf, size_t len);
} pd_report_hooks;

void pd_report_set_hooks(const pd_report_hooks *h);
const char *pd_bug_name(pd_bug_kind k);
/* Emit the report.  Returns after writing it; the caller decides whether
 * to abort (pd_alloc does, by policy). */
void pd_report_emit(pd_bug *bug);

/* Scratch formatting used by the crash report too. */
void pd_report_site(char *buf, size_t len, size_t *pos, const char *title,
                    const pd_site *s, int indent);
void pd_report_write_text(const char *text, size_t len);
void pd_report_write_json(const char *line, size_t len);

#endif
