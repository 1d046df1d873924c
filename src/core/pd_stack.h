/* pd_stack.h - C stacks: capture, a de-duplicating depot, a cheap scan for
 * the innermost user extension frame, and symbolization.
 *
 * Full backtraces cost about a microsecond each here (libgcc unwinding), so
 * they are taken for every allocation only on request (-X stacks=N) and
 * otherwise only when a bug is detected.  What is cheap: the return address
 * of the hook itself (the allocator API tail-calls it), and a short scan of
 * the raw stack above the hook for the first word that is a code address in
 * a "user" module - any loaded object that is not the interpreter, libc or
 * one of CPython's own extension modules.  That names the extension
 * function that called e.g. PyLong_FromLong.  The scan only runs when a
 * user module is loaded and the direct caller is not already user code. */
#ifndef PD_STACK_H
#define PD_STACK_H

#include <stddef.h>
#include <stdint.h>

#define PD_STACK_MAX 64

/* Capture up to max return addresses of the calling thread, skipping
 * `skip` innermost frames.  Returns the count. */
int pd_stack_capture(void **pcs, int max, int skip);

/* Depot: returns a stable id (>0) for the sequence; 0 if n == 0.  Caller
 * holds the core lock. */
uint32_t pd_depot_put(const uintptr_t *words, int n);
/* Copies up to max words of stack id into out; returns count.  Caller holds
 * the core lock. */
int pd_depot_get(uint32_t id, uintptr_t *out, int max);

/* Module classification.  is_system(path) says whether a loaded object is
 * part of the interpreter (not a user extension).  Refresh after every
 * dlopen/dlclose; safe against concurrent scans. */
void pd_modules_refresh(int (*is_system)(const char *path));
int pd_pc_is_user(uintptr_t pc);
/* Whether any user module is loaded at all: when none is, every
 * allocation skips the two questions above. */
extern int pd_have_user_modules; /* __atomic_* access only */
static inline int pd_stack_have_user(void)
{
    return __atomic_load_n(&pd_have_user_modules, __ATOMIC_RELAXED);
}

/* The first user code address found in the stack words above `from`
 * (a frame address of the caller) and below `bound`, 0 if none within the
 * window.  bound: the address of a frame the wanted caller must be deeper
 * than (the innermost eval loop's), or 0 for none; a bound that is not on
 * this thread's stack above `from` is ignored. */
void *pd_stack_scan_user(const void *from, uintptr_t bound);
/* Whether the scan may use the CPU's vector instructions (AVX2) where it
 * has them: on from the first pd_modules_refresh; tests try both. */
void pd_stack_scan_simd(int on);

/* Write "function (file:line) [module+0xoff]" for a return address.
 * Resolves static functions and inlined frames through addr2line when it is
 * installed, dladdr otherwise.  Not async-signal-safe in general, but uses
 * only vfork/execve/read/write and a static cache. */
void pd_symbolize(void *pc, char *out, size_t outlen);

#endif
