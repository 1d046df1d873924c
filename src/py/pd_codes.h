/* pd_codes.h - keep the location facts of code objects after they die, so
 * a site recorded in a module's top-level code still names its line. */
#ifndef PD_CODES_H
#define PD_CODES_H

#include <stddef.h>
#include <stdint.h>

/* Wrap the code type's dealloc.  Before Py_Initialize. */
void pd_codes_install(void);
/* "File ..., line N, in NAME" for a dead code object of that serial and an
 * instruction offset in bytes; 0 if it is not remembered. */
int pd_codes_describe(uint64_t serial, int lasti, char *buf, size_t len);

#endif
