/* fuzz_pyconfig.c - libFuzzer target for the pyconfig.h parser
 * (src/core/pd_pyconfig.c).  Any input: no crash, no sanitizer report,
 * and every line reported is well formed - a valid NAME taken from the
 * input, an integer in canonical form, a string value lying in the input.
 * Run by tools/fuzz.sh. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/core/pd_pyconfig.h"

static const char *in_start, *in_end;

static void check(void *arg, const char *name, size_t nl, pd_ch_kind kind, const char *v, size_t vl,
                  const char *raw, size_t rawl)
{
    if (kind != PD_CH_UNDEF && (raw < in_start || raw + rawl > in_end))
        __builtin_trap();
    size_t *lines = arg;
    (*lines)++;
    if (nl < 2 || name < in_start || name + nl > in_end || name[0] < 'A' || name[0] > 'Z')
        __builtin_trap();
    for (size_t i = 0; i < nl; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            __builtin_trap();
    }
    if (kind == PD_CH_INT) {
        size_t i = v[0] == '-';
        if (vl <= i)
            __builtin_trap();
        for (; i < vl; i++)
            if (v[i] < '0' || v[i] > '9')
                __builtin_trap();
    } else if (kind == PD_CH_STR) {
        if (v < in_start || v + vl > in_end)
            __builtin_trap();
    } else if (vl != 0 || rawl != 0) {
        __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *scratch = malloc(size + 2);
    if (text == NULL || scratch == NULL)
        abort();
    memcpy(text, data, size);
    in_start = text;
    in_end = text + size;
    size_t lines = 0;
    size_t n = pd_pyconfig_parse(text, size, 0, scratch, size + 2, check, &lines);
    if (n != lines)
        __builtin_trap();
    free(text);
    free(scratch);
    return 0;
}
