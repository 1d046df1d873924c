/* pd_sys.h - memory for our own structures, straight from the kernel.
 *
 * Our tables must never allocate through the hooks they implement, and the
 * crash handler must be able to read them, so they live in private
 * anonymous mappings.  Growing a table maps a larger region and copies. */
#ifndef PD_SYS_H
#define PD_SYS_H

#include <stddef.h>

void *pd_sys_map(size_t bytes);          /* zeroed; aborts on failure */
void pd_sys_unmap(void *p, size_t bytes);
/* Grow a mapping from old_bytes to new_bytes, keeping its contents. */
void *pd_sys_grow(void *p, size_t old_bytes, size_t new_bytes);
/* write() all of buf to fd, retrying on EINTR; async-signal-safe. */
void pd_sys_write(int fd, const char *buf, size_t len);
/* Small thread number (1, 2, ...) cached per thread; inline because every
 * allocation and free records it. */
extern _Thread_local unsigned pd_sys_tid_cached;
unsigned pd_sys_tid_assign(void);
static inline unsigned pd_sys_tid(void)
{
    unsigned t = pd_sys_tid_cached;
    return t ? t : pd_sys_tid_assign();
}

#endif
