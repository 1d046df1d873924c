/* pd_module.h - the `pydebug` builtin module. */
#ifndef PD_MODULE_H
#define PD_MODULE_H
#include <Python.h>
PyObject *pd_module_init(void);
/* atexit.register(module.attr).  0, or -1 with an exception set. */
int pd_atexit_register(PyObject *module, const char *attr);
#endif
