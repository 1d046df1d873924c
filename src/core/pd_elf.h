/* pd_elf.h - the dynamic symbols of an ELF64 shared object or executable:
 * what an extension module needs from the interpreter (undefined) and what
 * an interpreter or libpython offers (defined), for `python-debug -m
 * pydebug abi`.  Reads the file through a private read-only mapping and
 * checks every offset against the file's size: a truncated or hostile
 * file is an error, never a crash. */
#ifndef PD_ELF_H
#define PD_ELF_H

#include <stddef.h>

/* Global and weak symbols of .dynsym, in table order.  defined: not
 * SHN_UNDEF. */
typedef void (*pd_elf_visit)(void *arg, const char *name, int defined);

/* Parse an image already in memory (len bytes). */
int pd_elf_dynsyms_mem(const unsigned char *img, size_t len, pd_elf_visit visit, void *arg,
                       char *err, size_t errlen);
/* Map path and parse it.  0, or -1 with a reason in err. */
int pd_elf_dynsyms(const char *path, pd_elf_visit visit, void *arg, char *err, size_t errlen);

#endif
