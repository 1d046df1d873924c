/* pd_report.c - see pd_report.h. */
#define _GNU_SOURCE
#include "pd_report.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pd_stack.h"
#include "pd_sys.h"

static pd_report_hooks hooks;

void pd_report_set_hooks(const pd_report_hooks *h) { hooks = *h; }

static const char *const bug_names[] = {
    [PD_BUG_OVERRUN] = "overrun",
    [PD_BUG_UNDERRUN] = "underrun",
    [PD_BUG_DOUBLE_FREE] = "double-free",
    [PD_BUG_INVALID_FREE] = "invalid-free",
    [PD_BUG_WRONG_DOMAIN] = "wrong-domain",
    [PD_BUG_REALLOC_FREED] = "realloc-of-freed",
    [PD_BUG_WRITE_AFTER_FREE] = "write-after-free",
    [PD_BUG_CRASH] = "crash",
    [PD_BUG_READ_AFTER_FREE] = "read-after-free",
    [PD_BUG_OVERREAD] = "overread",
    [PD_BUG_UNDERREAD] = "underread",
    [PD_BUG_OVER_RELEASE] = "over-released-reference",
    [PD_BUG_FREED_INCREF] = "reference-to-freed-object",
    [PD_BUG_FREED_USE] = "freed-object-use",
};

static const char *const bug_titles[] = {
    [PD_BUG_OVERRUN] = "buffer overrun: bytes written past the end of a block",
    [PD_BUG_UNDERRUN] = "buffer underrun: bytes written before the start of a block",
    [PD_BUG_DOUBLE_FREE] = "double free: the block was already freed",
    [PD_BUG_INVALID_FREE] = "free of a pointer that was never allocated",
    [PD_BUG_WRONG_DOMAIN] = "block freed through the wrong allocator domain",
    [PD_BUG_REALLOC_FREED] = "realloc of a freed block",
    [PD_BUG_WRITE_AFTER_FREE] = "write after free: a freed block was modified",
    [PD_BUG_CRASH] = "fatal signal",
    [PD_BUG_READ_AFTER_FREE] = "read after free: a freed block was read",
    [PD_BUG_OVERREAD] = "buffer over-read: bytes read past the end of a block",
    [PD_BUG_UNDERREAD] = "buffer under-read: bytes read before the start of a block",
    [PD_BUG_OVER_RELEASE] =
        "reference released after the object was freed (over-released reference)",
    [PD_BUG_FREED_INCREF] = "reference taken to a freed object",
    [PD_BUG_FREED_USE] = "use of a freed object",
};

const char *pd_bug_name(pd_bug_kind k) { return bug_names[k]; }

static void ap(char *buf, size_t len, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void ap(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
    if (*pos >= len)
        return;
    va_list va;
    va_start(va, fmt);
    int n = vsnprintf(buf + *pos, len - *pos, fmt, va);
    va_end(va);
    if (n > 0)
        *pos += (size_t)n < len - *pos ? (size_t)n : len - *pos - 1;
}

/* JSON string with escapes. */
static void ap_json_str(char *buf, size_t len, size_t *pos, const char *s)
{
    ap(buf, len, pos, "\"");
    for (; *s && *pos + 8 < len; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            ap(buf, len, pos, "\\%c", c);
        else if (c == '\n')
            ap(buf, len, pos, "\\n");
        else if (c < 0x20)
            ap(buf, len, pos, "\\u%04x", c);
        else
            buf[(*pos)++] = (char)c;
    }
    buf[*pos < len ? *pos : len - 1] = '\0';
    ap(buf, len, pos, "\"");
}

/* Our own frames (the hooks, the allocator, the reporter) live in the
 * host executable; the innermost frames of a backtrace that are ours are
 * noise to the reader. */
static int is_our_frame(void *pc)
{
    Dl_info info;
    if (dladdr(pc, &info) == 0 || info.dli_fname == NULL ||
        strcmp(info.dli_fname, program_invocation_name) != 0)
        return 0;
    /* A host linked against a static libpython has the interpreter in the
     * executable too: there, ours are the frames of our own sources
     * (pd_*.c, host.c), by their debug information. */
    static int static_host = -1;
    if (static_host < 0) {
        void *py = dlsym(RTLD_DEFAULT, "Py_Initialize");
        Dl_info pi;
        static_host = py != NULL && dladdr(py, &pi) != 0 && pi.dli_fname != NULL &&
                      strcmp(pi.dli_fname, program_invocation_name) == 0;
    }
    if (!static_host)
        return 1;
    char sym[480];
    pd_symbolize(pc, sym, sizeof sym);
    const char *file = strstr(sym, " (");
    const char *colon = file ? strchr(file, ':') : NULL;
    if (colon == NULL)
        return 0;
    const char *base = colon;
    while (base > file + 2 && base[-1] != '/')
        base--;
    return !strncmp(base, "pd_", 3) || !strncmp(base, "host.c:", 7);
}

void pd_report_write_text(const char *text, size_t len) { pd_sys_write(2, text, len); }

void pd_report_write_json(const char *line, size_t len)
{
    const pd_options *o = pd_core_options();
    if (o->report_fd >= 0)
        pd_sys_write(o->report_fd, line, len);
}

/* Text form of one site. */
void pd_report_site(char *buf, size_t len, size_t *pos, const char *title,
                    const pd_site *s, int indent)
{
    char sym[480], py[600];
    ap(buf, len, pos, "%*s%s (thread %u):\n", indent, "", title, s->tid);
    /* The user's own C function first; the direct caller of the
     * allocator API (often inside libpython) as "via". */
    void *main_pc = s->user_pc ? s->user_pc : s->pc;
    if (main_pc) {
        pd_symbolize(main_pc, sym, sizeof sym);
        ap(buf, len, pos, "%*s  C caller:  %s\n", indent, "", sym);
    }
    if (s->user_pc && s->pc && s->user_pc != s->pc) {
        pd_symbolize(s->pc, sym, sizeof sym);
        ap(buf, len, pos, "%*s  via:       %s\n", indent, "", sym);
    }
    if (s->stack) {
        uintptr_t pcs[PD_STACK_MAX];
        int n = pd_core_stack_get(s->stack, pcs, PD_STACK_MAX);
        ap(buf, len, pos, "%*s  C stack:\n", indent, "");
        int i = 0;
        while (i < n && is_our_frame((void *)pcs[i]))
            i++;
        for (int k = 0; i < n; i++) {
            pd_symbolize((void *)pcs[i], sym, sizeof sym);
            ap(buf, len, pos, "%*s    #%d %s\n", indent, "", k++, sym);
        }
    }
    py[0] = '\0';
    if (hooks.describe_site)
        hooks.describe_site(s, py, sizeof py);
    if (py[0])
        ap(buf, len, pos, "%*s  Python:    %s\n", indent, "", py);
    else
        ap(buf, len, pos, "%*s  Python:    (no Python frame)\n", indent, "");
    if (s->pystack && hooks.describe_pystack) {
        char tb[4096];
        hooks.describe_pystack(s->pystack, tb, sizeof tb);
        ap(buf, len, pos, "%*s  Python traceback (most recent call last):\n", indent, "");
        for (char *line = tb; *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            ap(buf, len, pos, "%*s    %s\n", indent, "", line);
            if (nl == NULL)
                break;
            line = nl + 1;
        }
    }
}

static void json_site(char *buf, size_t len, size_t *pos, const pd_site *s)
{
    char sym[480], py[600];
    ap(buf, len, pos, "{\"thread\":%u", s->tid);
    void *main_pc = s->user_pc ? s->user_pc : s->pc;
    if (main_pc) {
        pd_symbolize(main_pc, sym, sizeof sym);
        ap(buf, len, pos, ",\"c_caller\":");
        ap_json_str(buf, len, pos, sym);
    }
    if (s->user_pc && s->pc && s->user_pc != s->pc) {
        pd_symbolize(s->pc, sym, sizeof sym);
        ap(buf, len, pos, ",\"c_via\":");
        ap_json_str(buf, len, pos, sym);
    }
    if (s->stack) {
        uintptr_t pcs[PD_STACK_MAX];
        int n = pd_core_stack_get(s->stack, pcs, PD_STACK_MAX);
        ap(buf, len, pos, ",\"c_stack\":[");
        int i = 0;
        while (i < n && is_our_frame((void *)pcs[i]))
            i++;
        for (int k = 0; i < n; i++) {
            pd_symbolize((void *)pcs[i], sym, sizeof sym);
            ap(buf, len, pos, k++ ? "," : "");
            ap_json_str(buf, len, pos, sym);
        }
        ap(buf, len, pos, "]");
    }
    py[0] = '\0';
    if (hooks.describe_site)
        hooks.describe_site(s, py, sizeof py);
    ap(buf, len, pos, ",\"python\":");
    if (py[0])
        ap_json_str(buf, len, pos, py);
    else
        ap(buf, len, pos, "null");
    if (s->pystack && hooks.describe_pystack) {
        char tb[4096];
        hooks.describe_pystack(s->pystack, tb, sizeof tb);
        ap(buf, len, pos, ",\"python_stack\":[");
        int k = 0;
        for (char *line = tb; *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            ap(buf, len, pos, k++ ? "," : "");
            ap_json_str(buf, len, pos, line);
            if (nl == NULL)
                break;
            line = nl + 1;
        }
        ap(buf, len, pos, "]");
    }
    ap(buf, len, pos, "}");
}

static const char *state_name(int st)
{
    return st == PD_LIVE ? "live" : st == PD_QUARANTINED ? "freed" : "?";
}

static void hexbytes(const unsigned char *b, size_t n, char *out, size_t outlen, int spaced)
{
    size_t pos = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        ap(out, outlen, &pos, spaced && i ? " %02x" : "%02x", b[i]);
}

/* Reports are big; build them in static buffers under a lock.  A report
 * raised while this thread is already reporting is written bare. */
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int in_report;
static char text[65536];
static char json[65536];

void pd_report_emit(pd_bug *bug)
{
    if (in_report) {
        static const char msg[] = "==python-debug== (a second error was raised while reporting)\n";
        pd_sys_write(2, msg, sizeof msg - 1);
        return;
    }
    in_report = 1;
    pthread_mutex_lock(&report_lock);

    size_t t = 0, j = 0;
    const size_t TL = sizeof text, JL = sizeof json;
    char type[128] = "", hex[64];
    if (bug->have_block && hooks.block_type)
        hooks.block_type(&bug->block, type, sizeof type);

    /* Headline and block. */
    ap(text, TL, &t, "==python-debug== ERROR: %s\n", bug_titles[bug->kind]);
    ap(json, JL, &j, "{\"bug\":\"%s\",\"title\":", bug_names[bug->kind]);
    ap_json_str(json, JL, &j, bug_titles[bug->kind]);
    if (bug->api) {
        ap(text, TL, &t, "  detected by: %s(%p)\n", bug->api, (void *)bug->ptr);
        ap(json, JL, &j, ",\"api\":\"%s\",\"pointer\":\"%p\"", bug->api, (void *)bug->ptr);
    }
    if (bug->detail[0]) {
        ap(text, TL, &t, "  %s\n", bug->detail);
        ap(json, JL, &j, ",\"detail\":");
        ap_json_str(json, JL, &j, bug->detail);
    }
    if (bug->refs)
        ap(json, JL, &j, ",\"references\":%lld", (long long)bug->refs);
    if (bug->have_block) {
        const pd_block_info *b = &bug->block;
        ap(text, TL, &t, "  block: %p, %zu bytes, serial %llu, domain %s (%s), %s%s%s\n",
           (void *)b->addr, b->size, (unsigned long long)b->serial,
           pd_domain_name((pd_domain)b->domain), pd_domain_api((pd_domain)b->domain),
           state_name(b->state), type[0] ? ", object of type " : "", type);
        ap(json, JL, &j,
           ",\"block\":{\"address\":\"%p\",\"size\":%zu,\"serial\":%llu,"
           "\"domain\":\"%s\",\"state\":\"%s\",\"type\":",
           (void *)b->addr, b->size, (unsigned long long)b->serial,
           pd_domain_name((pd_domain)b->domain),
           b->state == PD_LIVE ? "live" : "freed");
        if (type[0])
            ap_json_str(json, JL, &j, type);
        else
            ap(json, JL, &j, "null");
        ap(json, JL, &j, "}");
    }
    if (bug->have_damage) {
        hexbytes(bug->found, bug->nfound, hex, sizeof hex, 1);
        const pd_block_info *b = &bug->block;
        char where[96] = "";
        if (bug->dmg_offset < 0)
            snprintf(where, sizeof where, " (%td bytes before the start)", -bug->dmg_offset);
        else if (bug->have_block && (size_t)bug->dmg_offset == b->size)
            snprintf(where, sizeof where, " (just past the end)");
        else if (bug->have_block && (size_t)bug->dmg_offset > b->size)
            snprintf(where, sizeof where, " (%zu bytes past the end)",
                     (size_t)bug->dmg_offset - b->size);
        ap(text, TL, &t, "  damage: %zu byte%s at offset %td%s: %s%s where every byte should be 0x%02x\n",
           bug->dmg_len, bug->dmg_len == 1 ? "" : "s", bug->dmg_offset, where, hex,
           bug->dmg_len > bug->nfound ? " ..." : "", bug->expected);
        hexbytes(bug->found, bug->nfound, hex, sizeof hex, 0);
        ap(json, JL, &j, ",\"damage\":{\"offset\":%td,\"length\":%zu,\"found\":\"%s\",\"expected\":\"%02x\"}",
           bug->dmg_offset, bug->dmg_len, hex, bug->expected);
    }

    /* Sites: of the use first, for a freed object's. */
    if (bug->kind == PD_BUG_FREED_USE && bug->now) {
        pd_report_site(text, TL, &t, "used by", bug->now, 2);
        ap(json, JL, &j, ",\"used\":");
        json_site(json, JL, &j, bug->now);
    }
    if (bug->have_block) {
        pd_report_site(text, TL, &t, "allocated by", &bug->block.alloc, 2);
        ap(json, JL, &j, ",\"allocated\":");
        json_site(json, JL, &j, &bug->block.alloc);
        if (bug->block.state == PD_QUARANTINED) {
            pd_report_site(text, TL, &t, "freed by", &bug->block.free, 2);
            ap(json, JL, &j, ",\"freed\":");
            json_site(json, JL, &j, &bug->block.free);
        }
    }

    /* Where it was detected: backtrace now (or the crash's), traceback now. */
    void *pcs[PD_STACK_MAX];
    int n;
    if (bug->crash_pcs) {
        n = bug->crash_npcs;
        memcpy(pcs, bug->crash_pcs, (size_t)n * sizeof pcs[0]);
    } else {
        n = pd_stack_capture(pcs, 32, 0);
    }
    char sym[480];
    /* The pid: children that follow report to the same stderr and file. */
    ap(text, TL, &t, "  detected at (pid %d, thread %u):\n    C backtrace:\n", (int)getpid(),
       pd_sys_tid());
    ap(json, JL, &j, ",\"pid\":%d,\"detected\":{\"thread\":%u,\"c_stack\":[", (int)getpid(),
       pd_sys_tid());
    int first = 0;
    while (first < n && is_our_frame(pcs[first]))
        first++;
    for (int i = first, k = 0; i < n; i++) {
        pd_symbolize(pcs[i], sym, sizeof sym);
        ap(text, TL, &t, "      #%d %s\n", k, sym);
        ap(json, JL, &j, k ? "," : "");
        ap_json_str(json, JL, &j, sym);
        k++;
    }
    ap(json, JL, &j, "]");
    char tb[8192] = "";
    if (hooks.traceback_now)
        hooks.traceback_now(tb, sizeof tb);
    if (tb[0]) {
        ap(text, TL, &t, "    Python traceback (most recent call last):\n");
        ap(json, JL, &j, ",\"python\":[");
        int k = 0;
        for (char *line = tb; *line;) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            ap(text, TL, &t, "      %s\n", line);
            ap(json, JL, &j, k++ ? "," : "");
            ap_json_str(json, JL, &j, line);
            if (nl == NULL)
                break;
            line = nl + 1;
        }
        ap(json, JL, &j, "]");
    } else {
        ap(text, TL, &t, "    Python traceback: (no Python frame in this thread)\n");
    }
    ap(json, JL, &j, "}}\n");
    ap(text, TL, &t, "==python-debug== end of report\n");

    pd_report_write_text(text, t);
    pd_report_write_json(json, j);
    pthread_mutex_unlock(&report_lock);
    in_report = 0;
}
