/* pd_tracemod.h - the tracing facilities' Python methods and options. */
#ifndef PD_TRACEMOD_H
#define PD_TRACEMOD_H

#include <Python.h>

/* _pydebug's methods: lltrace, callstats, settscdump, tscstats, ... */
extern PyMethodDef pd_trace_methods[];

/* After initialization: the __lltrace__ audit hook, and what -X lltrace,
 * -X callstats and -X tscdump ask for.  -1 with an exception set. */
int pd_tracemod_start(PyObject *module);

#endif
