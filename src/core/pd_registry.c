/* pd_registry.c - see pd_registry.h. */
#include "pd_registry.h"

#include <string.h>

#include "pd_sys.h"

static pd_entry *entries;      /* entries[0] unused */
static uint32_t entries_cap;   /* allocated */
static uint32_t entries_high;  /* never-used entries start here */
static uint32_t free_head;

/* A slot keeps the key next to the index, so probing and backward-shift
 * deletion never touch the (much larger, colder) entries. */
typedef struct {
    uintptr_t addr;
    uint32_t idx;   /* 0 = empty */
} slot;

static slot *table;
static size_t table_mask;      /* size - 1, size a power of two */
static size_t table_used;

static struct {
    uint32_t head, tail;
    uint64_t bytes, count;
} quar[PD_NDOMAINS];

static inline size_t hash_addr(uintptr_t a)
{
    /* Blocks are 16-byte aligned: drop the zero bits, then mix. */
    uint64_t h = (uint64_t)a >> 4;
    h *= 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20);
}

static void table_rehash(size_t new_size)
{
    slot *old = table;
    size_t old_size = table ? table_mask + 1 : 0;
    table = pd_sys_map(new_size * sizeof *table);
    table_mask = new_size - 1;
    for (size_t i = 0; i < old_size; i++) {
        if (old[i].idx == 0)
            continue;
        size_t s = hash_addr(old[i].addr) & table_mask;
        while (table[s].idx != 0)
            s = (s + 1) & table_mask;
        table[s] = old[i];
    }
    pd_sys_unmap(old, old_size * sizeof *old);
}

static uint32_t entry_new(void)
{
    if (free_head != 0) {
        uint32_t idx = free_head;
        free_head = entries[idx].next;
        return idx;
    }
    if (entries_high == 0)
        entries_high = 1;
    if (entries_high >= entries_cap) {
        uint32_t ncap = entries_cap ? entries_cap * 2 : 65536;
        entries = pd_sys_grow(entries, (size_t)entries_cap * sizeof *entries,
                              (size_t)ncap * sizeof *entries);
        entries_cap = ncap;
    }
    return entries_high++;
}

uint32_t pd_reg_insert(uintptr_t addr)
{
    if (table == NULL || (table_used + 1) * 2 > table_mask + 1)
        table_rehash(table ? (table_mask + 1) * 2 : 131072);
    uint32_t idx = entry_new();
    memset(&entries[idx], 0, sizeof entries[idx]);
    entries[idx].b.addr = addr;
    size_t s = hash_addr(addr) & table_mask;
    while (table[s].idx != 0)
        s = (s + 1) & table_mask;
    table[s].addr = addr;
    table[s].idx = idx;
    table_used++;
    return idx;
}

static size_t slot_of(uintptr_t addr)
{
    if (table == NULL)
        return (size_t)-1;
    size_t s = hash_addr(addr) & table_mask;
    for (;;) {
        if (table[s].idx == 0)
            return (size_t)-1;
        if (table[s].addr == addr)
            return s;
        s = (s + 1) & table_mask;
    }
}

uint32_t pd_reg_lookup(uintptr_t addr)
{
    size_t s = slot_of(addr);
    return s == (size_t)-1 ? 0 : table[s].idx;
}

void pd_reg_remove(uint32_t idx)
{
    size_t s = slot_of(entries[idx].b.addr);
    if (s == (size_t)-1)
        return;
    /* Backward-shift deletion: pull later members of the probe run into
     * the hole so lookups never stop early. */
    size_t hole = s;
    size_t j = s;
    for (;;) {
        j = (j + 1) & table_mask;
        if (table[j].idx == 0)
            break;
        size_t home = hash_addr(table[j].addr) & table_mask;
        /* Move slot j if its home is not in (hole, j] cyclically. */
        int in_range = hole <= j ? (home > hole && home <= j)
                                 : (home > hole || home <= j);
        if (!in_range) {
            table[hole] = table[j];
            hole = j;
        }
    }
    table[hole].idx = 0;
    table[hole].addr = 0;
    table_used--;
    entries[idx].b.addr = 0;
    entries[idx].next = free_head;
    free_head = idx;
}

pd_entry *pd_reg_entry(uint32_t idx) { return &entries[idx]; }
uint32_t pd_reg_high(void) { return entries_high; }

size_t pd_reg_bytes(void)
{
    return (size_t)entries_cap * sizeof *entries +
           (table ? (table_mask + 1) * sizeof *table : 0);
}

void pd_quar_push(pd_domain d, uint32_t idx)
{
    entries[idx].next = 0;
    if (quar[d].tail != 0)
        entries[quar[d].tail].next = idx;
    else
        quar[d].head = idx;
    quar[d].tail = idx;
    quar[d].count++;
    quar[d].bytes += entries[idx].b.size;
}

uint32_t pd_quar_pop(pd_domain d)
{
    uint32_t idx = quar[d].head;
    if (idx == 0)
        return 0;
    quar[d].head = entries[idx].next;
    if (quar[d].head == 0)
        quar[d].tail = 0;
    quar[d].count--;
    quar[d].bytes -= entries[idx].b.size;
    return idx;
}

uint64_t pd_quar_bytes(pd_domain d) { return quar[d].bytes; }
uint64_t pd_quar_count(pd_domain d) { return quar[d].count; }
