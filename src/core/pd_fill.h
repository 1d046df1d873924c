/* pd_fill.h - the byte patterns of debug blocks: filling a range with one
 * and telling whether it still holds it.  Every allocation, free and reuse
 * of a slot goes through these, so they are inline and vectorised; the
 * patterns themselves are in pd_core.h. */
#ifndef PD_FILL_H
#define PD_FILL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pd_core.h"

#define GUARD_WORD (0x0101010101010101ULL * PD_FILL_GUARD)
#define FREED_WORD (0x0101010101010101ULL * PD_FILL_FREED)
#define FRESH_WORD (0x0101010101010101ULL * PD_FILL_FRESH)

/* Whether all n bytes at p hold the pattern `pat` (a byte repeated):
 * every free and every reuse of a slot asks this of guards and freed
 * fills, so it ORs the differences 16 bytes at a time and tests once, the
 * last step overlapping the one before when n is not a multiple of 16. */
typedef uint64_t pd_u64x2 __attribute__((vector_size(16), aligned(1), may_alias));

static inline __attribute__((always_inline)) int intact(const unsigned char *p, size_t n,
                                                        uint64_t pat)
{
    if (__builtin_expect(n >= 16, 1)) {
        const pd_u64x2 want = {pat, pat};
        pd_u64x2 acc = {0, 0};
        size_t i = 0;
        for (; i + 32 <= n; i += 32)
            acc |= (*(const pd_u64x2 *)(p + i) ^ want) | (*(const pd_u64x2 *)(p + i + 16) ^ want);
        if (i + 16 <= n)
            acc |= *(const pd_u64x2 *)(p + i) ^ want;
        acc |= *(const pd_u64x2 *)(p + n - 16) ^ want;
        return (acc[0] | acc[1]) == 0;
    }
    uint64_t acc = 0, w;
    if (n >= 8) {
        memcpy(&w, p, 8);
        acc = w ^ pat;
        memcpy(&w, p + n - 8, 8);
        return (acc | (w ^ pat)) == 0;
    }
    for (size_t i = 0; i < n; i++)
        acc |= p[i] ^ (pat & 0xFF);
    return acc == 0;
}

/* Set n bytes at p to `pat` (a byte repeated): the fills of every
 * allocation and free.  Blocks are mostly small, and for them a few
 * overlapping 16-byte stores cost less than a call to memset. */
static inline __attribute__((always_inline)) void fill(unsigned char *p, size_t n, uint64_t pat)
{
    const pd_u64x2 v = {pat, pat};
    if (n >= 16 && n <= 64) {
        *(pd_u64x2 *)p = v;
        *(pd_u64x2 *)(p + n - 16) = v;
        if (n > 32) {
            *(pd_u64x2 *)(p + 16) = v;
            *(pd_u64x2 *)(p + n - 32) = v;
        }
    } else if (n >= 8 && n < 16) {
        memcpy(p, &pat, 8);
        memcpy(p + n - 8, &pat, 8);
    } else {
        memset(p, (int)(pat & 0xFF), n);
    }
}

/* First run of bytes in [p, p+n) that differ from `want`; returns 0 when
 * all are intact. */
static inline int find_damage(const unsigned char *p, size_t n, unsigned char want,
                       size_t *off, size_t *len)
{
    size_t i = 0;
    uint64_t pat;
    memset(&pat, want, sizeof pat);
    if (intact(p, n, pat))
        return 0;
    while (i < n && ((uintptr_t)(p + i) & 7))
        if (p[i] != want) goto found; else i++;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w != pat)
            break;
    }
    for (; i < n; i++)
        if (p[i] != want)
            goto found;
    return 0;
found:
    *off = i;
    size_t last = i;
    for (size_t k = i; k < n; k++)
        if (p[k] != want)
            last = k;
    *len = last - i + 1;
    return 1;
}

#endif
