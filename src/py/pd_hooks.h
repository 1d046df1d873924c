/* pd_hooks.h - the PEP 445 glue: installs the core as the raw, mem and
 * object allocators of the running interpreter and records each call's
 * site.  Call pd_hooks_install after Py_PreInitialize and before
 * Py_Initialize, so every block the interpreter allocates is ours. */
#ifndef PD_HOOKS_H
#define PD_HOOKS_H

#include "../core/pd_core.h"

typedef struct {
    pd_options core;
    int enabled;       /* -X malloc=off turns the debug allocator off */
    int objects_only;  /* -X malloc=objects: no debug allocator, only what
                        * object accounting needs (pd_pymwalk.h) */
    int pymalloc_off;  /* -X pymalloc=off with malloc=off: objects on the system
                        * allocator (with the debug allocator on, no block ever
                        * goes to pymalloc) */
    int mallocstats;   /* PYTHONMALLOCSTATS / -X mallocstats */
    int crash;         /* install the fatal-signal reporter */
    int poison;        /* freed objects keep a poison (pd_freedobj.h) */
    /* The debug build's object facilities (pd_compat.c). */
    int showrefcount;  /* -X showrefcount: [N refs, M blocks] */
    int dumprefs;      /* -X dumprefs / PYTHONDUMPREFS: live objects at exit */
    int countallocs;   /* -X countallocs / PYTHONCOUNTALLOCS: counts at exit */
    int sys_compat;    /* -X sys-compat: sys.gettotalrefcount and friends */
    /* Interpreter tracing (pd_trace.h). */
    int lltrace;       /* -X lltrace: every instruction of every frame */
    int callstats;     /* -X callstats: count calls, print at exit */
    int tscdump;       /* -X tscdump: PD_TSCDUMP_LINES or _SUMMARY */
    int follow;        /* -X follow: children run under python-debug too */
    const char *xopts[48]; /* our -X options as given, for the children */
    int nxopts;
} pd_config;

enum { PD_TSCDUMP_OFF, PD_TSCDUMP_LINES, PD_TSCDUMP_SUMMARY };

/* Parse our -X options and environment into cfg.  Returns 0, or -1 after
 * printing one line about a bad value. */
int pd_config_parse(pd_config *cfg, int argc, char **argv);

void pd_hooks_install(const pd_config *cfg);
const pd_config *pd_hooks_config(void);
int pd_hooks_installed(void);
/* The guarded pool is there (the debug allocator, or -X guard over
 * -X malloc=off): pydebug.guarded() works. */
int pd_hooks_guarding(void);

/* Step aside (GIL held): new blocks come from the interpreter's own
 * allocators from now on, for a process or a stretch of one with nothing
 * to check (the pytest-xdist controller; a leak hunter's start-up and
 * collection); the blocks already ours stay checked to their free.  Object
 * accounting then sees only those. */
void pd_hooks_step_aside(void);
/* Step back in: new blocks are ours again.  Theirs stay theirs, freed
 * there; the caller adopts their objects first (pd_objects_adopt_foreign),
 * so that accounting sees them. */
void pd_hooks_step_in(void);
int pd_hooks_aside(void);
/* Whether we ever stepped aside: blocks of theirs may be live. */
int pd_hooks_foreign(void);

/* The site of a call into us other than the allocator's (a freed
 * object's slot): ret is our return address, sp our frame. */
void pd_hooks_site(pd_site *s, void *ret, const void *sp);

/* The interpreter has started (GIL held): -X guard=all covers what is
 * allocated from now on. */
void pd_hooks_started(void);

/* Classify loaded objects again (after dlopen/dlclose). */
void pd_hooks_modules_changed(void);

/* At exit: check every block still known (live or quarantined), print statistics when
 * asked.  Returns the number of errors reported during the run. */
unsigned long pd_hooks_finish(void);

/* Print the allocator statistics (ours and pymalloc's) to stderr. */
void pd_hooks_print_stats(void);

#endif
