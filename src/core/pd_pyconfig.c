/* pd_pyconfig.c - see pd_pyconfig.h. */
#include "pd_pyconfig.h"

#include <string.h>

/* The spaces int() strips (C's isspace; not \x1c-\x1f, which
 * str.isspace() counts but int() does not). */
static int py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static int upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static int digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int name_char(unsigned char c)
{
    return upper(c) || (c >= 'a' && c <= 'z') || digit(c) || c == '_';
}

/* The length of NAME at s (0 if there is none). */
static size_t name_at(const char *s, size_t n)
{
    if (n < 2 || !upper((unsigned char)s[0]) || !name_char((unsigned char)s[1]))
        return 0;
    size_t k = 2;
    while (k < n && name_char((unsigned char)s[k]))
        k++;
    return k;
}

/* int(v) as Python does it, for ASCII: canonical form into out, or -1. */
static long int_of(const char *v, size_t n, char *out, size_t outlen)
{
    size_t i = 0, j = n, k = 0;
    while (i < j && py_space((unsigned char)v[i]))
        i++;
    while (j > i && py_space((unsigned char)v[j - 1]))
        j--;
    if (i < j && (v[i] == '+' || v[i] == '-')) {
        if (v[i] == '-' && k < outlen)
            out[k++] = '-';
        i++;
    }
    if (i == j || !digit((unsigned char)v[i]))
        return -1;
    for (; i < j; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '_') {
            if (i + 1 >= j || !digit((unsigned char)v[i + 1]))
                return -1;  /* trailing or doubled underscore */
            continue;
        }
        if (!digit(c) || k >= outlen)
            return -1;
        out[k++] = (char)c;
    }
    return (long)k;
}

/* One whole line, without its end. */
static int line(const char *s, size_t n, unsigned flags, char *scratch, size_t slen,
                pd_ch_visit visit, void *arg)
{
    static const char def[] = "#define ", undef[] = "/* #undef ";
    if (n > 8 && !memcmp(s, def, 8)) {
        size_t nl = name_at(s + 8, n - 8);
        if (nl == 0 || 8 + nl >= n || s[8 + nl] != ' ')
            return 0;
        const char *v = s + 9 + nl;
        size_t vl = n - 9 - nl;
        if ((flags & PD_CH_UNQUOTE) && vl >= 2 && v[0] == '"' && v[vl - 1] == '"')
            v++, vl -= 2;
        for (size_t i = 0; i < vl; i++)
            if ((unsigned char)v[i] >= 0x80)
                goto str;  /* Python's int() knows more digits and spaces */
        long il = int_of(v, vl, scratch, slen);
        if (il > 0) {
            visit(arg, s + 8, nl, PD_CH_INT, scratch, (size_t)il, v, vl);
            return 1;
        }
    str:
        visit(arg, s + 8, nl, PD_CH_STR, v, vl, v, vl);
        return 1;
    }
    if (n > 10 && !memcmp(s, undef, 10)) {
        size_t nl = name_at(s + 10, n - 10);
        if (nl == 0 || n != 10 + nl + 3 || memcmp(s + 10 + nl, " */", 3) != 0)
            return 0;
        visit(arg, s + 10, nl, PD_CH_UNDEF, "", 0, "", 0);
        return 1;
    }
    return 0;
}

size_t pd_pyconfig_parse(const char *text, size_t len, unsigned flags, char *scratch,
                         size_t scratch_len, pd_ch_visit visit, void *arg)
{
    size_t count = 0, start = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '\n' && text[i] != '\r')
            continue;
        count += (size_t)line(text + start, i - start, flags, scratch, scratch_len, visit, arg);
        if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    return count;
}
