/* pd_objcount.h - COUNT_ALLOCS' per-type counts from the best source the
 * running interpreter offers:
 *
 *   tracer     the reference tracer (PyRefTracer_SetTracer, 3.13+), when a
 *              self-test at start shows it reports every destruction;
 *   allocator  the debug allocator's object events (pd_object_hooks): an
 *              object is counted under the type it has at the next
 *              allocation or free after its own, and at its free.
 *
 * Either way, objects alive when counting starts are counted as born
 * then (a heap walk), so allocations - frees == alive for every type. */
#ifndef PD_OBJCOUNT_H
#define PD_OBJCOUNT_H

#include <Python.h>
#include <stdio.h>

typedef enum {
    PD_COUNTS_OFF = 0,
    PD_COUNTS_TRACER,
    PD_COUNTS_ALLOCATOR,
} pd_count_backend;

/* Start counting (GIL held; idempotent).  -1 when no source is available
 * (the debug allocator is off or -X malloc=objects, and the tracer is
 * absent or inexact). */
int pd_objcount_start(void);
/* Record the birth site of every object of a type with a free list
 * (pd_core_birth), from the reference tracer, while on (GIL held).
 * Returns whether births are being recorded: 0 where the tracer is
 * missing, inexact or someone else's. */
int pd_objcount_births(int on);
pd_count_backend pd_objcount_backend(void);
/* Whether every birth and death was seen by the tracer. */
int pd_objcount_exact(void);

/* [(type name, allocations, frees, most alive at once), ...], most
 * allocated first. */
PyObject *pd_objcount_list(void);
/* The same as a table, to f. */
void pd_objcount_print(FILE *f);

#endif
