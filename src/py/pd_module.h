/* pd_module.h - the `pydebug` builtin module. */
#ifndef PD_MODULE_H
#define PD_MODULE_H
#include <Python.h>
PyObject *pd_module_init(void);
#endif
