/* pd_crash.c - see pd_crash.h.  Best effort: the handler uses only what
 * was prepared in advance (alternate stack, libgcc loaded, mapped tables),
 * and trylocks the registry so a crash inside the allocator cannot hang. */
#define _GNU_SOURCE
#include <Python.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include "pd_crash.h"
#include "pd_pyframe.h"
#include "../core/pd_guard.h"
#include "../core/pd_report.h"
#include "../core/pd_stack.h"
#include "../core/pd_sys.h"

static const int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

static const char *pattern_name(uint64_t v)
{
    /* Allow a small offset: a field read through a pattern pointer. */
    uint64_t hi = v & ~(uint64_t)0xFFFF;
    if (hi == (0xDBDBDBDBDBDBDBDBull & ~(uint64_t)0xFFFF))
        return "the fill pattern of freed memory (0xDB): a pointer was read out of a freed block";
    if (hi == (0xCBCBCBCBCBCBCBCBull & ~(uint64_t)0xFFFF))
        return "the fill pattern of fresh memory (0xCB): a pointer was read out of never-initialized memory";
    if (hi == (0xFBFBFBFBFBFBFBFBull & ~(uint64_t)0xFFFF))
        return "the guard pattern (0xFB): a pointer was read from outside a block's bounds";
    return NULL;
}

static const struct { const char *name; int reg; } regs[] = {
    {"rax", REG_RAX}, {"rbx", REG_RBX}, {"rcx", REG_RCX}, {"rdx", REG_RDX},
    {"rsi", REG_RSI}, {"rdi", REG_RDI}, {"rbp", REG_RBP}, {"r8", REG_R8},
    {"r9", REG_R9},   {"r10", REG_R10}, {"r11", REG_R11}, {"r12", REG_R12},
    {"r13", REG_R13}, {"r14", REG_R14}, {"r15", REG_R15},
};

/* A fault in the guarded pool: a report on the block, then abort, or
 * (-X on_error=continue) open the page and let the instruction run again.
 * Returns 0 when the fault is not the pool's. */
static int guard_fault(uintptr_t fault, const ucontext_t *uc)
{
    pd_guard_fault f;
    if (!pd_guard_classify(fault, &f) || f.kind == PD_GUARD_WILD)
        return 0;
    int write = -1; /* unknown */
#ifdef REG_ERR
    write = (uc->uc_mcontext.gregs[REG_ERR] & 2) != 0; /* x86 page-fault error code */
#else
    (void)uc;
#endif
    pd_bug bug;
    memset(&bug, 0, sizeof bug);
    bug.ptr = fault;
    bug.have_block = 1;
    bug.block = f.block;
    const char *what = write == 1 ? "a write" : write == 0 ? "a read" : "an access";
    size_t k = (size_t)snprintf(bug.detail, sizeof bug.detail,
                                "caught by a guard page at the faulting instruction: %s of %p, ",
                                what, (void *)fault);
    char *rest = bug.detail + k;
    size_t room = sizeof bug.detail - k;
    switch (f.kind) {
    case PD_GUARD_USE_AFTER_FREE:
        bug.kind = write == 1 ? PD_BUG_WRITE_AFTER_FREE : PD_BUG_READ_AFTER_FREE;
        snprintf(rest, room, "%td bytes into the freed block", f.offset);
        break;
    case PD_GUARD_OVERFLOW:
        bug.kind = write == 1 ? PD_BUG_OVERRUN : PD_BUG_OVERREAD;
        snprintf(rest, room, "%zu byte%s past the end of the block",
                 (size_t)f.offset - f.block.size + 1, (size_t)f.offset - f.block.size ? "s" : "");
        break;
    default:
        bug.kind = write == 1 ? PD_BUG_UNDERRUN : PD_BUG_UNDERREAD;
        snprintf(rest, room, "%td byte%s before the start of the block", -f.offset,
                 f.offset == -1 ? "" : "s");
        break;
    }
    /* The faulting thread's frames from the faulting instruction out: the
     * handler's own and the signal trampoline's are left off. */
    void *pcs[PD_STACK_MAX];
    int n = pd_stack_capture(pcs, 48, 0), from = 0;
#ifdef REG_RIP
    uintptr_t ip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
    for (int i = 0; i < n; i++)
        if ((uintptr_t)pcs[i] == ip || (uintptr_t)pcs[i] == ip + 1) {
            from = i;
            break;
        }
#endif
    bug.crash_pcs = pcs + from;
    bug.crash_npcs = n - from;
    pd_core_raise(&bug); /* aborts, unless -X on_error=continue */
    pd_guard_open_page(f.page);
    return 1;
}

static void crash_handler(int sig, siginfo_t *si, void *ucv)
{
    static atomic_int busy;
    if (pd_core_is_aborting() || atomic_fetch_add(&busy, 1) != 0)
        goto out;

    ucontext_t *uc = ucv;
    uintptr_t fault = (uintptr_t)si->si_addr;
    if ((sig == SIGSEGV || sig == SIGBUS) && guard_fault(fault, uc)) {
        atomic_fetch_sub(&busy, 1);
        return; /* the page is open: the instruction completes */
    }
    pd_bug bug;
    memset(&bug, 0, sizeof bug);
    bug.kind = PD_BUG_CRASH;
    size_t k = (size_t)snprintf(bug.detail, sizeof bug.detail, "%s",
                                sigdescr_np(sig) ? sigdescr_np(sig) : "signal");
    if (sig == SIGSEGV || sig == SIGBUS)
        k += (size_t)snprintf(bug.detail + k, sizeof bug.detail - k, " at address %p",
                              (void *)fault);

    /* The faulting address first, then each register: a fill pattern, or
     * a pointer into one of our blocks. */
    const char *pat = pattern_name(fault);
    const char *why_reg = NULL;
    for (size_t i = 0; pat == NULL && i < sizeof regs / sizeof regs[0]; i++) {
        pat = pattern_name((uint64_t)uc->uc_mcontext.gregs[regs[i].reg]);
        why_reg = regs[i].name;
    }
    if (pat && k < sizeof bug.detail)
        k += (size_t)snprintf(bug.detail + k, sizeof bug.detail - k, "; %s%s holds %s",
                              why_reg ? "register " : "the address", why_reg ? why_reg : "",
                              pat);
    if (fault && pd_find_block_try(fault, &bug.block))
        bug.have_block = 1;
    for (size_t i = 0; !bug.have_block && i < sizeof regs / sizeof regs[0]; i++) {
        uintptr_t v = (uintptr_t)uc->uc_mcontext.gregs[regs[i].reg];
        if (v > 4096 && pd_find_block_try(v, &bug.block) && bug.block.state == PD_QUARANTINED) {
            bug.have_block = 1;
            if (k < sizeof bug.detail)
                snprintf(bug.detail + k, sizeof bug.detail - k,
                         "; register %s points into the freed block below", regs[i].name);
        }
    }

    void *pcs[PD_STACK_MAX];
    bug.crash_npcs = pd_stack_capture(pcs, 48, 0);
    bug.crash_pcs = pcs;
    pd_report_emit(&bug);
    static const char hdr[] = "==python-debug== Python threads at the crash:\n";
    pd_sys_write(2, hdr, sizeof hdr - 1);
    pd_py_dump_all_threads(2);

out:
    signal(sig, SIG_DFL);
    raise(sig);
}

void pd_crash_install(void)
{
    static char *altstack;
    if (altstack == NULL) {
        size_t size = 256 * 1024;
        altstack = pd_sys_map(size);
        stack_t ss = {.ss_sp = altstack, .ss_size = size, .ss_flags = 0};
        sigaltstack(&ss, NULL);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = crash_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaction(signals[i], &sa, NULL);
}
