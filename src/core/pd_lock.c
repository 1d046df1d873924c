/* pd_lock.c - the contended halves of the core lock (see pd_lock.h). */
#define _GNU_SOURCE
#include "pd_lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex(atomic_int *addr, int op, int val)
{
    syscall(SYS_futex, (int *)addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

void pd_lock_wait(pd_lock *l)
{
    /* A short spin first: the holder is usually a few hundred
     * instructions from giving it back. */
    for (int i = 0; i < 100; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        int free = 0;
        if (atomic_load_explicit(&l->state, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_weak_explicit(&l->state, &free, 1, memory_order_acquire,
                                                  memory_order_relaxed))
            return;
    }
    /* Then mark it contended and sleep until it is given back; whoever
     * takes it this way leaves it marked, so its give wakes the next. */
    while (atomic_exchange_explicit(&l->state, 2, memory_order_acquire) != 0)
        futex(&l->state, FUTEX_WAIT, 2);
}

void pd_lock_wake(pd_lock *l)
{
    futex(&l->state, FUTEX_WAKE, 1);
}
