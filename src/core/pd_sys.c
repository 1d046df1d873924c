/* pd_sys.c - see pd_sys.h. */
#define _GNU_SOURCE
#include "pd_sys.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void *pd_sys_map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        static const char msg[] = "python-debug: out of memory for its own tables\n";
        pd_sys_write(2, msg, sizeof msg - 1);
        abort();
    }
    return p;
}

void pd_sys_unmap(void *p, size_t bytes)
{
    if (p != NULL)
        munmap(p, bytes);
}

void *pd_sys_grow(void *p, size_t old_bytes, size_t new_bytes)
{
    if (p == NULL)
        return pd_sys_map(new_bytes);
    void *q = mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE);
    if (q == MAP_FAILED) {
        q = pd_sys_map(new_bytes);
        memcpy(q, p, old_bytes);
        pd_sys_unmap(p, old_bytes);
    }
    return q;
}

void pd_sys_write(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= (size_t)n;
    }
}

_Thread_local unsigned pd_sys_tid_cached;

unsigned pd_sys_tid_assign(void)
{
    static atomic_uint next = 1;
    if (pd_sys_tid_cached == 0)
        pd_sys_tid_cached = atomic_fetch_add(&next, 1);
    return pd_sys_tid_cached;
}
