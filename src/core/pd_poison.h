/* pd_poison.h - the poison a freed object keeps (pd_core.h, "Freed
 * objects"), for the allocator's free and check paths.  All of it runs
 * with the core lock held.
 *
 * A block's poison is one byte kept with the block: 0 for none, else 1 +
 * the offset in the block of the dead object's count word; its type word
 * follows.  The two words are written over the freed fill, so a check of
 * the fill skips those 16 bytes and compares them with the poison.
 *
 * Every free of an object-domain block asks where its object is.  Most are
 * objects of a few long-lived types, which the glue teaches the core once
 * each (pd_core_poison_learn): a table indexed by the type word then
 * answers with a load and three compares per place an object can sit,
 * inline; anything else asks the glue.  Checking and writing the poison
 * are inline too, since every reuse of a slot checks it. */
#ifndef PD_POISON_H
#define PD_POISON_H

#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "pd_core.h"

#define PD_POISON_BYTES 16
#define PD_POISON_TYPES 256

typedef struct {
    uint64_t type_word;
    uint32_t least;
    uint8_t off;
} pd_poison_type;

extern pd_poison pd_poison_cfg;
extern uint64_t pd_poison_words[2]; /* the count word and the type word */
extern pd_poison_type pd_poison_types[PD_POISON_TYPES];

#define PD_POISON_SLOT(t) (((t) >> 5) & (PD_POISON_TYPES - 1))

uint8_t pd_poison_find_slow(uintptr_t addr, size_t size);

/* Where a block being freed keeps its poison (its bytes still as the dying
 * object left them): the poison byte, or 0 when it gets none. */
static inline uint8_t pd_poison_find(uintptr_t addr, size_t size)
{
    if (pd_poison_cfg.count_at == NULL)
        return 0;
    const unsigned char *user = (const unsigned char *)addr + pd_poison_cfg.count_offset;
    for (size_t off = 0; off <= 32 && off + pd_poison_cfg.count_offset + PD_POISON_BYTES <= size;
         off += 16) {
        uint64_t w[2];
        memcpy(w, user + off, sizeof w);
        const pd_poison_type *k = &pd_poison_types[PD_POISON_SLOT(w[1])];
        if (k->type_word == w[1] && k->off == off && k->least <= size && w[0] == 0)
            return (uint8_t)(off + pd_poison_cfg.count_offset + 1);
    }
    return pd_poison_find_slow(addr, size);
}

/* Write the poison words (after the freed fill). */
static inline void pd_poison_put(uintptr_t addr, uint8_t poison)
{
    memcpy((unsigned char *)addr + poison - 1, pd_poison_words, PD_POISON_BYTES);
}

static inline int pd_poison_same(uintptr_t addr, uint8_t poison)
{
    uint64_t w[2];
    memcpy(w, (const unsigned char *)addr + poison - 1, PD_POISON_BYTES);
    return ((w[0] ^ pd_poison_words[0]) | (w[1] ^ pd_poison_words[1])) == 0;
}

typedef enum {
    PD_POISON_INTACT = 0,
    PD_POISON_COUNT,   /* only the count moved: *delta references */
    PD_POISON_DAMAGED, /* anything else was written there */
} pd_poison_state;
pd_poison_state pd_poison_read(uintptr_t addr, uint8_t poison, int64_t *delta);

#endif
