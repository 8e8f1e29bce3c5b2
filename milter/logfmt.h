/*
 * logfmt.h: values in mxguard's key=value log lines, written so that no
 * text a client sent can add, end or change a field, nor start a new
 * physical line.
 *
 * A value is written bare when it is made only of printable ASCII other
 * than space, '"', '\\' and '='; otherwise it is quoted, with '"' and '\\'
 * escaped by a backslash and every other byte outside printable ASCII,
 * and '=', written \xHH. So "key=" never appears inside a value, and a
 * line splits into its fields by this grammar (mxguard(8), LOGGING):
 *
 *   line   = field *(SP field) [": " text]   ; text written by mxguard only
 *   field  = key "=" value
 *   key    = 1*(%x61-7A / %x30-39 / "_" / ".")   ; written by mxguard only
 *   value  = bare / quoted
 *   bare   = 1*(%x21 / %x23-3C / %x3E-5B / %x5D-7E)
 *   quoted = DQUOTE *(%x20-21 / %x23-3C / %x3E-5B / %x5D-7E / "\" DQUOTE / "\\" / "\x" 2HEXDIG) DQUOTE
 */
#ifndef MXG_MILTER_LOGFMT_H
#define MXG_MILTER_LOGFMT_H

#include <stdbool.h>
#include <stddef.h>

#define LOGFMT_VALUE_MAX 300 /* bytes of a value kept; longer ones end in "..." inside the quotes */
/* Room for the longest value written: every byte as \xHH, quotes, "..." and NUL. */
#define LOGFMT_BUF (LOGFMT_VALUE_MAX * 4 + 8)

/* The value of in (len bytes; NUL bytes included) for a log line, in out. */
const char *logfmt_value(const char *in, size_t len, char *out, size_t outsz);

/* The same for a C string (NULL: "-"). */
const char *logfmt_str(const char *in, char *out, size_t outsz);

/* The same, always quoted: for values that are text, such as a reply. */
const char *logfmt_quoted(const char *in, char *out, size_t outsz);

#endif
