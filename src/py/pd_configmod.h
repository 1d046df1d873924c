/* pd_configmod.h - _pydebug.parse_config_h (see pd_configmod.c). */
#ifndef PD_CONFIGMOD_H
#define PD_CONFIGMOD_H

#include <Python.h>

extern PyMethodDef pd_config_methods[];

#endif
