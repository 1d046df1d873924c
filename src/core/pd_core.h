/* pd_core.h - the contract of python-debug's C core.
 *
 * The core knows nothing about Python.  It is a debug allocator that sits
 * on top of three underlying allocators (one per domain), keeps every block
 * it hands out in an out-of-band registry, and reports misuse.  The Python
 * glue (src/py) installs it as the PEP 445 hooks, captures allocation sites
 * and tells the core how to describe Python-level things in reports.
 *
 * Block layout (user pointer p, requested size n), in slots of the
 * core's own heap (pd_heap.h):
 *
 *     slot            p                 p+n
 *     | hdr | guard   | user bytes       | rear guard    |
 *       16    16        n bytes            16..64 bytes
 *
 * Guards hold PD_FILL_GUARD.  Fresh user bytes hold PD_FILL_FRESH (calloc:
 * zero); freed user bytes hold PD_FILL_FREED while the block sits in the
 * quarantine.  Size, serial, domain, state and sites live in the registry,
 * never next to the block, so a wild write cannot corrupt what we know
 * about it.
 *
 * Threads: every entry point may be called from any thread, with or without
 * the GIL.  One lock (pd_lock.h) protects the registry, the quarantine and
 * the stack depot.  Nothing here allocates through the hooks it implements:
 * our tables live in memory mapped with mmap().
 */
#ifndef PD_CORE_H
#define PD_CORE_H

#include <stddef.h>
#include <stdint.h>

#define PD_GUARD 16
#define PD_FILL_FRESH 0xCB
#define PD_FILL_FREED 0xDB
#define PD_FILL_GUARD 0xFB

typedef enum { PD_RAW = 0, PD_MEM = 1, PD_OBJ = 2, PD_NDOMAINS = 3 } pd_domain;

/* Same shape as PyMemAllocatorEx.  Blocks are never taken from it: it
 * frees (and reallocates) the foreign blocks allocated before our hooks. */
typedef struct {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*calloc)(void *ctx, size_t nelem, size_t elsize);
    void *(*realloc)(void *ctx, void *ptr, size_t new_size);
    void (*free)(void *ctx, void *ptr);
} pd_underlying;

/* Where a block was allocated or freed.  Cheap to record: the direct C
 * caller of the allocator API, the innermost "user" C frame found by a short
 * stack scan (see pd_stack.h), the innermost Python frame as (code, offset)
 * plus the serial of the code object's block so that a report can tell
 * whether the code object is still the same one, and optionally the id of
 * a full C backtrace in the stack depot. */
typedef struct {
    void *pc;             /* return address into the API's caller */
    void *user_pc;        /* innermost return address in a user extension */
    void *code;           /* PyCodeObject * or NULL */
    uint64_t code_serial; /* block serial of code; 0 = not one of ours */
    int32_t lasti;        /* byte offset of the instruction in code */
    uint32_t stack;       /* C stack depot id (-X stacks), 0 = none */
    uint32_t pystack;     /* Python stack depot id (-X stacks), 0 = none */
    uint32_t tid;         /* small thread number */
    uint32_t subinterp;   /* made in a subinterpreter (see pd_alloc.c) */
} pd_site;

typedef enum { PD_LIVE = 1, PD_QUARANTINED = 2 } pd_state;

/* A copy of one registry entry, as handed to reports. */
typedef struct {
    uintptr_t addr;
    size_t size;
    uint64_t serial;
    uint8_t domain;
    uint8_t state;
    uint32_t rear;        /* bytes of rear guard after the user bytes */
    pd_site alloc;
    pd_site free;
    /* Object blocks: the words where ob_type sits for a plain object, a GC
     * object and a GC object with a pre-header, saved at free time so a
     * report on a freed block can still name its type. */
    uintptr_t type_words[3];
    /* In a walk of live object blocks: 0, and the walk's fn sets it to the
     * object it found in the block.  The heap remembers where (its object
     * tags, pd_heap.h): an object stays where it was made until its block
     * is freed, so pd_visit_objects hands it over without the block again. */
    uintptr_t obj;
    /* Object accounting: the type this block's object was counted under
     * when it was born (pd_object_hooks), 0 = not counted. */
    uintptr_t otype;
    /* A freed block that held an object: 1 + the offset of its poison
     * (pd_poison), 0 = none. */
    uint8_t poison;
    /* 1: alloc is where the object was born (pd_core_birth), not
     * necessarily where the block was allocated. */
    uint8_t birth;
} pd_block_info;

typedef enum {
    PD_ON_ERROR_ABORT = 0,
    PD_ON_ERROR_CONTINUE = 1,
} pd_on_error;

typedef struct {
    size_t quarantine_bytes; /* per domain, slots and entries; 0 = none */
    int stacks;              /* frames of C backtrace per site, 0 = off */
    pd_on_error on_error;
    int report_fd;           /* JSON lines, -1 = none */
    int valgrind;            /* mark guards with client requests */
    size_t heap_bytes;       /* address space reserved for the heap */
    /* Guarded slots (pd_guard.h): one allocation in guard_rate (0 = none),
     * or all of them; blocks at the page's start instead of its end; the
     * pool's address space (0 = no pool: not even pydebug.guarded()). */
    uint32_t guard_rate;
    int guard_all;
    int guard_left;
    size_t guard_pool_bytes;
} pd_options;

/* Lifecycle ------------------------------------------------------------ */
void pd_core_init(const pd_options *opt);
void pd_core_set_underlying(pd_domain d, const pd_underlying *u);
const pd_options *pd_core_options(void);

/* The allocator -------------------------------------------------------- */
void *pd_malloc(pd_domain d, size_t n, int zero, const pd_site *site);
void *pd_realloc(pd_domain d, void *p, size_t n, const pd_site *site);
void pd_free(pd_domain d, void *p, const pd_site *site);
/* pd_free, given what pd_heap_prefetch(p) returned (NULL: nothing). */
struct pd_entry;
void pd_free_hinted(pd_domain d, void *p, const pd_site *site, struct pd_entry *hint);
/* A block in a guarded slot (pd_guard.h), or NULL when the pool has no
 * room: the caller then takes its normal path.  Its sites get a full C
 * backtrace.  pd_free and pd_realloc take guarded blocks like any other. */
void *pd_guarded_malloc(pd_domain d, size_t n, int zero, const pd_site *site);
/* The size and domain of the live block at p (ours or guarded); returns
 * 0 when p is not one. */
int pd_live_block(const void *p, size_t *size, int *domain);

/* Verify every live and quarantined block; report all damage; return the
 * number of damaged blocks. */
size_t pd_check_heap(void);

/* Look up the block that contains addr (exact start or interior, live or
 * quarantined).  Linear in the registry for interior pointers: for reports
 * and crashes only.  Returns 1 and fills *out when found. */
int pd_find_block(uintptr_t addr, int interior, pd_block_info *out);
/* Lock-free-ish variant for the crash handler: tries the lock, gives up. */
int pd_find_block_try(uintptr_t addr, pd_block_info *out);

/* Frames of a stack depot id (takes the core lock). */
/* Visiting blocks ------------------------------------------------------------
 * pd_visit_live calls fn on every live block of domain d (the guarded ones,
 * then the heap's in address order),
 * with the core lock held: fn must not allocate through the hooks, and may
 * call into the core only through pd_locked_find.  The blocks it is handed
 * have no sites filled in (alloc, free: a walk of every block reads one
 * line of each entry, not three); pd_find_block gives them. */
typedef void (*pd_visit_fn)(pd_block_info *b, void *arg);
void pd_visit_live(pd_domain d, pd_visit_fn fn, void *arg);
/* The live object-domain blocks, under the same rules: fn(b) for a block
 * whose object no walk has found (fn sets b->obj if it finds one),
 * known(objs, n) with the addresses of objects earlier walks found, a
 * batch at a time and without reading their blocks' entries (a walk that
 * reads one word of each object can then ask for the next ones early).
 * Whether such an object is alive (a free list keeps dead ones in their
 * blocks) is known's to ask. */
typedef void (*pd_visit_obj_fn)(const uintptr_t *objs, size_t n, void *arg);
void pd_visit_objects(pd_visit_fn fn, pd_visit_obj_fn known, void *arg);
/* Inside a visit or an object hook: copies the live block holding addr
 * (interior pointers too), sites not filled in, to *out and returns 1, or
 * returns 0. */
int pd_locked_find(uintptr_t addr, pd_block_info *out);

/* Object events ------------------------------------------------------------
 * For per-type counts on interpreters with no exact tracer.  `born` is
 * called on an object-domain block at the next allocation or free after
 * its own (by then its creator has set the object's type), `retire` when
 * it is freed, before its bytes are filled; a block freed before anything
 * else happened is born first.  Both run with the core lock held, under the
 * rules of pd_visit_live; born may set b->otype. */
typedef struct {
    void (*born)(pd_block_info *b);
    void (*retire)(const pd_block_info *b);
} pd_object_hooks;
void pd_core_set_object_hooks(const pd_object_hooks *h); /* NULL: none */

/* Freed objects ------------------------------------------------------------
 * A freed block that held an object keeps, over its freed fill, a poison in
 * the object's reference-count and type words: a count every supported
 * interpreter treats as an ordinary mortal one, and the type "freed object"
 * (src/py/pd_freedobj.c).  A Py_INCREF or Py_DECREF through a stale
 * reference then changes the count, and the checks of freed blocks report
 * it as a reference taken or released after the free; any other use goes
 * through the freed type, which reports at once (pd_core_freed_use).  The
 * glue finds the object; the core keeps the poison's place with the block
 * (its entry, then its free slot) and checks it whenever it checks the
 * block's fill, until the slot is reused. */
typedef struct {
    uint64_t count_word; /* what a freed object's count word holds */
    uint64_t type_word;  /* what its type word holds (it follows the count) */
    size_t count_offset; /* of the count word in an object */
    /* Offset, in an object-domain block being freed (lock held, bytes still
     * as the dying object left them), of its count word, or -1 when the
     * block holds no object whose last reference is gone.  It may teach
     * the core a type (pd_core_poison_learn), so that the next objects of
     * it are found without a call. */
    long (*count_at)(uintptr_t addr, size_t size);
} pd_poison;
void pd_core_set_poison(const pd_poison *p); /* NULL: no more (blocks keep theirs) */
/* Objects whose type word is type_word (a type that lives as long as the
 * process), at obj_off (0, 16 or 32) in blocks of at least `least` bytes,
 * are dead when their count word is 0. */
void pd_core_poison_learn(uint64_t type_word, size_t obj_off, size_t least);
/* A use of the freed object at obj through its type's `slot`: report it
 * (the block, its sites, the site of the use) and abort, unless
 * -X on_error=continue, which returns. */
void pd_core_freed_use(const void *obj, const char *slot, const char *detail,
                       const pd_site *now);

/* Object births --------------------------------------------------------------
 * An object CPython takes from one of its free lists is born in a block
 * allocated for an object long dead.  Where the interpreter tells of
 * births (its reference tracer), the glue calls this at each one: a
 * block allocated before the last allocation gets s as its site, and
 * every such block is marked (pd_block_info.birth). */
void pd_core_birth(const void *obj, const pd_site *s);

int pd_core_stack_get(uint32_t id, uintptr_t *out, int max);
/* Store a sequence in the stack depot (takes the core lock). */
uint32_t pd_core_stack_put(const uintptr_t *words, int n);

/* Serial of the live block holding the object at p (at its start or
 * behind a GC header), 0 when there is none. */
uint64_t pd_serial_of(const void *p);
/* The same without the lock, for an object the caller knows stays alive
 * while it asks (a code object its own thread is running, at every
 * allocation): that block's entry cannot change meanwhile, and the tables
 * that lead to it were written before the object was handed out. */
uint64_t pd_serial_of_live(const void *p);
/* The serial the next block will get: blocks with serials at or above it
 * were allocated after this call. */
uint64_t pd_next_serial(void);
/* How many mem and object blocks threads other than the watched one have
 * allocated and freed so far; the thread whose small number (pd_site.tid)
 * is tid is the watched one from now on.  The difference between two
 * calls from one thread: whether another touched the heap meanwhile. */
uint64_t pd_core_others(unsigned tid);
/* A block of the allocator below us (a foreign one) was freed in domain d
 * by thread tid: counted in the domain's foreign_frees and, for a mem or
 * object block freed by another thread, in pd_core_others. */
void pd_core_foreign_free(pd_domain d, unsigned tid);

/* Statistics ----------------------------------------------------------- */
typedef struct {
    uint64_t blocks, bytes, peak_bytes;
    uint64_t allocs, frees, reallocs;
    uint64_t foreign_frees;
} pd_domain_stats;

typedef struct {
    pd_domain_stats dom[PD_NDOMAINS];
    uint64_t quarantine_blocks, quarantine_bytes, quarantine_limit;
    uint64_t errors;
    uint64_t registry_bytes;  /* our metadata */
    uint64_t arenas, heap_bytes;
    /* Guarded slots: the pool's size, in use, freed and still
     * inaccessible, blocks guarded so far, allocations the pool had no room
     * for, slots opened after a fault. */
    uint64_t guard_slots, guard_live, guard_freed, guard_guarded, guard_fallbacks,
        guard_retired;
} pd_stats;

/* Per size class of the heap (see pd_heap.h), for PYTHONMALLOCSTATS. */
typedef struct pd_class_stats pd_class_stats;
int pd_core_classes(pd_class_stats *out, int max);
/* Called, with the core lock held, each time the heap commits an arena:
 * must not allocate through the hooks. */
void pd_core_set_arena_hook(void (*hook)(void));

void pd_get_stats(pd_stats *out);
uint64_t pd_error_count(void);
/* Count and emit a report made outside the allocator (a guard page's
 * fault), then abort or return as -X on_error says. */
struct pd_bug;
void pd_core_raise(struct pd_bug *bug);
/* True once a report decided to abort: the crash reporter stays quiet. */
int pd_core_is_aborting(void);
const char *pd_domain_name(pd_domain d);
const char *pd_domain_api(pd_domain d);

/* fork(): the glue calls these around fork so a child never inherits a
 * held lock. */
void pd_core_atfork_prepare(void);
void pd_core_atfork_parent(void);
void pd_core_atfork_child(void);

#endif
