/* pd_pyconfig.h - reading an interpreter's pyconfig.h: the C counterpart
 * of sysconfig.parse_config_h, and exactly as strict.
 *
 * A line counts when it is, whole,
 *     #define NAME VALUE          NAME = VALUE (an integer when VALUE is one)
 *     / * #undef NAME * /         NAME = 0   (without the spaces inside / *)
 * where NAME is an ASCII capital letter followed by one or more letters,
 * digits or underscores, and exactly one space separates the parts.  Lines
 * end at \n, \r\n or \r (Python reads the file with universal newlines); a
 * last line without an end does not count.  VALUE is an integer when
 * Python's int() would take it: surrounding spaces (" \t\n\v\f\r"), a sign, decimal
 * digits with single underscores between them (ASCII only: a non-ASCII
 * VALUE is a string here).  Later lines override earlier ones; the caller
 * keeps the first position of each name (a dict does).
 *
 * With PD_CH_UNQUOTE (what sysconfig does from 3.15 on), a VALUE that is
 * wholly one "..." is the text between the quotes, an integer or not. */
#ifndef PD_PYCONFIG_H
#define PD_PYCONFIG_H

#include <stddef.h>

typedef enum { PD_CH_STR, PD_CH_INT, PD_CH_UNDEF } pd_ch_kind;

/* Called for each line that counts.  raw is VALUE as written (empty for
 * PD_CH_UNDEF); for PD_CH_INT, value is the integer in canonical form (an
 * optional '-', then digits, no underscores), else value is raw. */
typedef void (*pd_ch_visit)(void *arg, const char *name, size_t name_len, pd_ch_kind kind,
                            const char *value, size_t value_len, const char *raw, size_t raw_len);

enum { PD_CH_UNQUOTE = 1 };

/* Parse len bytes of text.  scratch (scratch_len bytes) holds canonical
 * integers; a longer integer is reported as a string.  flags: 0 or
 * PD_CH_UNQUOTE.  Returns the number of lines that counted. */
size_t pd_pyconfig_parse(const char *text, size_t len, unsigned flags, char *scratch,
                         size_t scratch_len, pd_ch_visit visit, void *arg);

#endif
