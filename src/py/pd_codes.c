/* pd_codes.c - Python locations that outlive their code objects.
 *
 * A site records (code object, instruction offset, serial of the code's
 * block).  A module's top-level code object dies as soon as the import
 * finishes, and a -c program's when it ends, so a report made later could
 * not say which line allocated a block.  We wrap the code type's dealloc:
 * just before a code object dies, its file name, qualified name, first
 * line and location table are copied into a bounded ring, keyed by the
 * serial.  A report on a dead code object decodes the copied table itself.
 *
 * The ring: records appended at a 64-bit position that only grows; a
 * record is still there while (written - its position) <= ring size.  A
 * direct-mapped index of serial -> position finds it; a collision or an
 * overwritten record just means "location unknown", as before. */
#include <Python.h>

#include <pthread.h>
#include <string.h>

#include "pd_codes.h"
#include "pd_pyframe.h"
#include "../core/pd_sys.h"

#define RING_BYTES (8u << 20)
#define INDEX_SLOTS 65536

typedef struct {
    uint64_t serial;
    int32_t firstlineno;
    uint16_t file_len, name_len;
    uint32_t table_len;
    /* then file, name, table bytes */
} record;

static unsigned char *ring;
static uint64_t written;
static struct { uint64_t serial, pos; } idx[INDEX_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static destructor code_dealloc_orig;

static void ring_put(uint64_t pos, const void *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ring[(pos + i) % RING_BYTES] = ((const unsigned char *)src)[i];
}

static void ring_get(uint64_t pos, void *dst, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)dst)[i] = ring[(pos + i) % RING_BYTES];
}

static void remember(PyCodeObject *co)
{
    uint64_t serial = pd_serial_of(co);
    if (serial == 0)
        return;
    char file[400], name[200];
    pd_py_str_utf8(co->co_filename, file, sizeof file);
    pd_py_str_utf8(co->co_qualname, name, sizeof name);
    PyObject *lt = co->co_linetable;
    if (lt == NULL || !PyBytes_Check(lt))
        return;
    record r = {
        .serial = serial,
        .firstlineno = co->co_firstlineno,
        .file_len = (uint16_t)strlen(file),
        .name_len = (uint16_t)strlen(name),
        .table_len = (uint32_t)PyBytes_GET_SIZE(lt),
    };
    size_t total = sizeof r + r.file_len + r.name_len + r.table_len;
    if (total > RING_BYTES / 4)
        return;
    pthread_mutex_lock(&lock);
    uint64_t pos = written;
    ring_put(pos, &r, sizeof r);
    ring_put(pos + sizeof r, file, r.file_len);
    ring_put(pos + sizeof r + r.file_len, name, r.name_len);
    ring_put(pos + sizeof r + r.file_len + r.name_len, PyBytes_AS_STRING(lt), r.table_len);
    written += total;
    idx[serial % INDEX_SLOTS].serial = serial;
    idx[serial % INDEX_SLOTS].pos = pos;
    pthread_mutex_unlock(&lock);
}

static void pd_code_dealloc(PyObject *op)
{
    remember((PyCodeObject *)op);
    code_dealloc_orig(op);
}

void pd_codes_install(void)
{
    ring = pd_sys_map(RING_BYTES);
    code_dealloc_orig = PyCode_Type.tp_dealloc;
    PyCode_Type.tp_dealloc = pd_code_dealloc;
}

/* The location table (3.11+, Objects/locations.md in CPython): entries of
 * one start byte (bit 7 set; bits 3-6 a code; bits 0-2 length - 1, in code
 * units) and code-specific varints.  Only the line matters here. */
static int read_varint(const unsigned char *t, size_t n, size_t *i, unsigned *out)
{
    unsigned v = 0, shift = 0;
    for (;;) {
        if (*i >= n)
            return -1;
        unsigned char b = t[(*i)++];
        v |= (unsigned)(b & 63) << shift;
        shift += 6;
        if (!(b & 64))
            break;
    }
    *out = v;
    return 0;
}

static int line_at(const unsigned char *t, size_t n, int firstlineno, int offset)
{
    int line = firstlineno, addr = 0;
    size_t i = 0;
    int target = offset / 2; /* code units */
    while (i < n) {
        unsigned char first = t[i++];
        int code = (first >> 3) & 15;
        int len = (first & 7) + 1;
        int this_line = line;
        unsigned v;
        if (code == 15) {
            this_line = -1;
        } else if (code == 14 || code == 13) {
            if (read_varint(t, n, &i, &v) < 0)
                return -1;
            int delta = (v & 1) ? -(int)(v >> 1) : (int)(v >> 1);
            line += delta;
            this_line = line;
            if (code == 14) {
                unsigned skip;
                for (int k = 0; k < 3; k++)
                    if (read_varint(t, n, &i, &skip) < 0)
                        return -1;
            }
        } else if (code >= 10) {
            line += code - 10;
            this_line = line;
            i += 2; /* start column, end column */
        } else {
            i += 1; /* column byte */
        }
        if (target < addr + len)
            return this_line;
        addr += len;
    }
    return -1;
}

int pd_codes_describe(uint64_t serial, int lasti, char *buf, size_t len)
{
    int found = 0;
    pthread_mutex_lock(&lock);
    if (ring != NULL && idx[serial % INDEX_SLOTS].serial == serial) {
        uint64_t pos = idx[serial % INDEX_SLOTS].pos;
        record r;
        if (written - pos <= RING_BYTES) {
            ring_get(pos, &r, sizeof r);
            if (r.serial == serial) {
                char file[400], name[200];
                static unsigned char table[RING_BYTES / 4];
                ring_get(pos + sizeof r, file, r.file_len);
                file[r.file_len] = '\0';
                ring_get(pos + sizeof r + r.file_len, name, r.name_len);
                name[r.name_len] = '\0';
                ring_get(pos + sizeof r + r.file_len + r.name_len, table, r.table_len);
                int line = lasti >= 0 ? line_at(table, r.table_len, r.firstlineno, lasti) : -1;
                snprintf(buf, len, "File \"%s\", line %d, in %s", file, line, name);
                found = 1;
            }
        }
    }
    pthread_mutex_unlock(&lock);
    return found;
}
