/* pd_pyframe.c - reading Python frames from C, without allocating and
 * without the GIL.
 *
 * The allocator hooks run inside the interpreter, often in the middle of
 * creating a frame or an object, and in the raw domain without the GIL.
 * So we never call an API that may allocate or run code: the calling
 * thread's own frame chain is read through pd_interp.h, the one place that
 * knows the interpreter's internal structures. */
#include <Python.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "interp/pd_interp.h"
#include "pd_codes.h"
#include "pd_objects.h"
#include "pd_pyframe.h"
#include "../core/pd_core.h"
#include "../core/pd_heap.h"
#include "../core/pd_stack.h"

/* After finalization, code objects may point at strings the interpreter
 * has already freed: stop describing anything Python. */
static int finalized;

void pd_py_set_finalized(void) { finalized = 1; }

int pd_py_capture_stack(uintptr_t *words, int max_frames)
{
    PyThreadState *ts = pd_interp_own_tstate();
    if (ts == NULL)
        return 0;
    pd_pos at[PD_STACK_MAX];
    int n = pd_interp_positions(ts, at, max_frames < PD_STACK_MAX ? max_frames : PD_STACK_MAX);
    for (int i = 0; i < n; i++) {
        words[3 * i] = (uintptr_t)at[i].code;
        words[3 * i + 1] = (uintptr_t)pd_live_serial_of(at[i].code);
        words[3 * i + 2] = (uintptr_t)at[i].offset;
    }
    return 3 * n;
}

/* str -> UTF-8 without allocating. */
void pd_py_str_utf8(PyObject *o, char *buf, size_t len)
{
    size_t k = 0;
    if (len == 0)
        return;
    if (o == NULL || !PyUnicode_Check(o)) {
        snprintf(buf, len, "?");
        return;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(o);
    int kind = PyUnicode_KIND(o);
    const void *data = PyUnicode_DATA(o);
    for (Py_ssize_t i = 0; i < n && k + 5 < len; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c < 0x80) {
            buf[k++] = (char)c;
        } else if (c < 0x800) {
            buf[k++] = (char)(0xC0 | (c >> 6));
            buf[k++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            buf[k++] = (char)(0xE0 | (c >> 12));
            buf[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            buf[k++] = (char)(0x80 | (c & 0x3F));
        } else {
            buf[k++] = (char)(0xF0 | (c >> 18));
            buf[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
            buf[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            buf[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    buf[k] = '\0';
}

static void describe_code(PyCodeObject *co, int lasti, char *buf, size_t len)
{
    char file[400], name[200];
    pd_py_str_utf8(co->co_filename, file, sizeof file);
    pd_py_str_utf8(co->co_qualname ? co->co_qualname : co->co_name, name, sizeof name);
    int line = lasti >= 0 ? PyCode_Addr2Line(co, lasti) : -1;
    snprintf(buf, len, "File \"%s\", line %d, in %s", file, line, name);
}

void pd_py_describe_pystack(uint32_t id, char *buf, size_t len)
{
    uintptr_t w[3 * 64];
    int n = pd_core_stack_get(id, w, 3 * 64) / 3;
    size_t pos = 0;
    buf[0] = '\0';
    for (int i = n - 1; i >= 0 && pos + 1 < len; i--) {
        pd_site s = {.code = (void *)w[3 * i], .code_serial = w[3 * i + 1],
                     .lasti = (int32_t)w[3 * i + 2]};
        char line[700];
        pd_py_describe_site(&s, line, sizeof line);
        int k = snprintf(buf + pos, len - pos, "%s\n", line);
        if (k > 0)
            pos += (size_t)k < len - pos ? (size_t)k : len - pos - 1;
    }
}

void pd_py_describe_site(const pd_site *s, char *buf, size_t len)
{
    buf[0] = '\0';
    if (s->code == NULL || finalized)
        return;
    /* The code object may have died and its memory been reused since the
     * site was recorded: only trust it while its block is the same one. */
    if (s->code_serial != 0 && pd_serial_of(s->code) != s->code_serial) {
        if (!pd_codes_describe(s->code_serial, s->lasti, buf, len))
            snprintf(buf, len, "(code object %p freed since; location unknown)", s->code);
        return;
    }
    describe_code((PyCodeObject *)s->code, s->lasti, buf, len);
}

static size_t frames_of(PyThreadState *ts, char *buf, size_t len, size_t pos)
{
    /* Collect innermost-first, print outermost-first. */
    pd_pos at[256];
    int n = pd_interp_positions(ts, at, 256);
    for (int i = n - 1; i >= 0 && pos + 1 < len; i--) {
        char line[700];
        describe_code(at[i].code, at[i].offset, line, sizeof line);
        int k = snprintf(buf + pos, len - pos, "%s\n", line);
        if (k > 0)
            pos += (size_t)k < len - pos ? (size_t)k : len - pos - 1;
    }
    return pos;
}

void pd_py_traceback_now(char *buf, size_t len)
{
    buf[0] = '\0';
    PyThreadState *ts = finalized ? NULL : pd_interp_own_tstate();
    if (ts != NULL)
        frames_of(ts, buf, len, 0);
}

void pd_py_dump_all_threads(int fd)
{
    if (finalized)
        return;
    PyInterpreterState *interp = PyInterpreterState_Main();
    PyThreadState *me = pd_interp_own_tstate();
    if (interp == NULL)
        return;
    static char buf[16384];
    int count = 0;
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp);
         ts != NULL && count < 100; ts = PyThreadState_Next(ts), count++) {
        int k = snprintf(buf, sizeof buf, "%s thread %#lx (most recent call last):\n",
                         ts == me ? "Current" : "Thread", (unsigned long)ts->thread_id);
        size_t pos = (size_t)k;
        size_t end = frames_of(ts, buf, sizeof buf, pos);
        if (end == pos)
            end += (size_t)snprintf(buf + end, sizeof buf - end, "  (no Python frame)\n");
        buf[sizeof buf - 1] = '\0';
        /* indent frame lines */
        for (char *line = buf; *line;) {
            char *nl = strchr(line, '\n');
            size_t l = nl ? (size_t)(nl - line + 1) : strlen(line);
            if (line != buf)
                (void)!write(fd, "  ", 2);
            (void)!write(fd, line, l);
            line += l;
        }
    }
}

void pd_py_block_type(const pd_block_info *b, char *buf, size_t len)
{
    buf[0] = '\0';
    if (b->domain != PD_OBJ || finalized)
        return;
    /* ob_type sits at +8 of a plain object, +24 behind a GC header, +40
     * behind a GC header and a pre-header. */
    for (int i = 0; i < 3; i++) {
        if (b->size < (size_t)(16 * i + 16))
            break;
        uintptr_t t;
        if (b->state == PD_LIVE)
            memcpy(&t, (const char *)b->addr + 16 * i + 8, sizeof t);
        else
            t = b->type_words[i];
        if (pd_obj_is_type(t, PD_UNLOCKED)) {
            const char *name = ((PyTypeObject *)t)->tp_name;
            snprintf(buf, len, "%s", name ? name : "?");
            return;
        }
    }
}

/* References held by running frames (pd_interp_visit_frames). */
void pd_py_visit_frames(visitproc visit, void *arg)
{
    PyInterpreterState *interp = PyInterpreterState_Main();
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts != NULL;
         ts = PyThreadState_Next(ts))
        pd_interp_visit_frames(ts, visit, arg);
}
