/* pd_lock.h - the core lock: a futex mutex whose uncontended paths are
 * one atomic instruction each, inline.
 *
 * Every allocation and free takes the core lock once.  glibc's mutex
 * costs two library calls and some 70 instructions per pair even when
 * nobody waits; this one is an exchange to take and an exchange to give.
 * States: 0 free, 1 held, 2 held with waiters (who sleep on the futex, so
 * a holder descheduled on a busy machine costs waiters no CPU).  Not
 * recursive; never allocates. */
#ifndef PD_LOCK_H
#define PD_LOCK_H

#include <stdatomic.h>

typedef struct {
    atomic_int state;
} pd_lock;

#define PD_LOCK_INIT {0}

void pd_lock_wait(pd_lock *l);  /* the contended half of pd_lock_take */
void pd_lock_wake(pd_lock *l);  /* the contended half of pd_lock_give */

static inline void pd_lock_take(pd_lock *l)
{
    int free = 0;
    if (!atomic_compare_exchange_strong_explicit(&l->state, &free, 1, memory_order_acquire,
                                                 memory_order_relaxed))
        pd_lock_wait(l);
}

/* Returns 1 when taken, 0 when someone holds it. */
static inline int pd_lock_try(pd_lock *l)
{
    int free = 0;
    return atomic_compare_exchange_strong_explicit(&l->state, &free, 1, memory_order_acquire,
                                                   memory_order_relaxed);
}

static inline void pd_lock_give(pd_lock *l)
{
    if (atomic_exchange_explicit(&l->state, 0, memory_order_release) == 2)
        pd_lock_wake(l);
}

#endif
