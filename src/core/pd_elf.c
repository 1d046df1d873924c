/* pd_elf.c - see pd_elf.h.  ELF64, either byte order is refused but the
 * host's (little-endian here). */
#define _GNU_SOURCE
#include "pd_elf.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

/* [off, off + n) lies inside the image. */
static int inside(size_t len, unsigned long long off, unsigned long long n)
{
    return off <= len && n <= len - off;
}

int pd_elf_dynsyms_mem(const unsigned char *img, size_t len, pd_elf_visit visit, void *arg,
                       char *err, size_t errlen)
{
    if (len < sizeof(Elf64_Ehdr) || memcmp(img, ELFMAG, SELFMAG) != 0)
        return fail(err, errlen, "not an ELF file");
    if (img[EI_CLASS] != ELFCLASS64 || img[EI_DATA] != ELFDATA2LSB)
        return fail(err, errlen, "not a little-endian ELF64 file");
    Elf64_Ehdr eh;
    memcpy(&eh, img, sizeof eh);
    if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
        !inside(len, eh.e_shoff, (unsigned long long)eh.e_shnum * sizeof(Elf64_Shdr)))
        return fail(err, errlen, "bad section header table");
    for (unsigned i = 0; i < eh.e_shnum; i++) {
        Elf64_Shdr sh, str;
        memcpy(&sh, img + eh.e_shoff + (size_t)i * sizeof sh, sizeof sh);
        if (sh.sh_type != SHT_DYNSYM)
            continue;
        if (sh.sh_link >= eh.e_shnum || sh.sh_entsize != sizeof(Elf64_Sym) ||
            !inside(len, sh.sh_offset, sh.sh_size))
            return fail(err, errlen, "bad .dynsym section");
        memcpy(&str, img + eh.e_shoff + (size_t)sh.sh_link * sizeof str, sizeof str);
        if (!inside(len, str.sh_offset, str.sh_size) || str.sh_size == 0)
            return fail(err, errlen, "bad .dynstr section");
        const char *strtab = (const char *)img + str.sh_offset;
        for (size_t k = 1; k < sh.sh_size / sizeof(Elf64_Sym); k++) {
            Elf64_Sym sym;
            memcpy(&sym, img + sh.sh_offset + k * sizeof sym, sizeof sym);
            int bind = ELF64_ST_BIND(sym.st_info);
            if ((bind != STB_GLOBAL && bind != STB_WEAK) || sym.st_name >= str.sh_size)
                continue;
            const char *name = strtab + sym.st_name;
            /* The name must end inside the table. */
            if (memchr(name, '\0', str.sh_size - sym.st_name) == NULL || !*name)
                continue;
            visit(arg, name, sym.st_shndx != SHN_UNDEF);
        }
        return 0;
    }
    return fail(err, errlen, "no .dynsym section (a static object?)");
}

int pd_elf_dynsyms(const char *path, pd_elf_visit visit, void *arg, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size <= 0) {
        close(fd);
        return fail(err, errlen, "empty or unreadable file");
    }
    void *img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (img == MAP_FAILED) {
        snprintf(err, errlen, "mmap: %s", strerror(errno));
        return -1;
    }
    int rc = pd_elf_dynsyms_mem(img, (size_t)st.st_size, visit, arg, err, errlen);
    munmap(img, (size_t)st.st_size);
    return rc;
}
