/* pd_poison.c - see pd_poison.h and pd_core.h. */
#include "pd_poison.h"

#include <string.h>

pd_poison pd_poison_cfg;
uint64_t pd_poison_words[2];
pd_poison_type pd_poison_types[PD_POISON_TYPES];

void pd_core_set_poison(const pd_poison *p)
{
    /* Set once, at start-up, before Python code runs and with no free in
     * flight: the glue calls it on the main thread right after its type is
     * ready.  Blocks freed before keep no poison. */
    if (p == NULL) { /* no new poison; blocks that have one keep it */
        pd_poison_cfg.count_at = NULL;
        return;
    }
    pd_poison_cfg = *p;
    pd_poison_words[0] = pd_poison_cfg.count_word;
    pd_poison_words[1] = pd_poison_cfg.type_word;
    memset(pd_poison_types, 0, sizeof pd_poison_types);
}

void pd_core_poison_learn(uint64_t type_word, size_t obj_off, size_t least)
{
    pd_poison_type *k = &pd_poison_types[PD_POISON_SLOT(type_word)];
    k->type_word = type_word;
    k->least = (uint32_t)least;
    k->off = (uint8_t)obj_off;
}

uint8_t pd_poison_find_slow(uintptr_t addr, size_t size)
{
    long off = pd_poison_cfg.count_at(addr, size);
    if (off < 0 || (size_t)off + PD_POISON_BYTES > size || off > 200)
        return 0;
    return (uint8_t)(off + 1);
}

/* A count that moved by more than this was not moved by references. */
#define MAX_DELTA ((int64_t)1 << 24)

pd_poison_state pd_poison_read(uintptr_t addr, uint8_t poison, int64_t *delta)
{
    const unsigned char *w = (const unsigned char *)addr + poison - 1;
    uint64_t count, type;
    memcpy(&count, w, 8);
    memcpy(&type, w + 8, 8);
    if (type != pd_poison_words[1])
        return PD_POISON_DAMAGED;
    if (count == pd_poison_words[0])
        return PD_POISON_INTACT;
    /* The count word of every supported layout moves as a 64-bit integer,
     * or (3.12+'s Py_INCREF) in its low half with the high half left 0. */
    int64_t d = (int64_t)(count - pd_poison_words[0]);
    if (d < -MAX_DELTA || d > MAX_DELTA)
        return PD_POISON_DAMAGED;
    *delta = d;
    return PD_POISON_COUNT;
}
