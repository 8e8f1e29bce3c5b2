/*
 * kvparse.h: split one of mxguard's key=value log lines into its fields,
 * by the grammar mxguard(8) gives (LOGGING, "Fields no client can
 * forge"), the one milter/logfmt.h writes:
 *
 *   line   = field *(SP field) [": " text]   ; text written by mxguard only
 *   field  = key "=" value
 *   key    = 1*(%x61-7A / %x30-39 / "_" / ".")
 *   value  = bare / quoted
 *   bare   = 1*(%x21 / %x23-3C / %x3E-5B / %x5D-7E)
 *   quoted = DQUOTE *(%x20-21 / %x23-3C / %x3E-5B / %x5D-7E
 *                     / "\" DQUOTE / "\\" / "\x" 2HEXDIG) DQUOTE
 *
 * A bare value may end in ':' (an IPv6 address such as 2001:db8::), so
 * ": " after a bare value starts the text only when what follows it is
 * not another field (key "="); after a quoted value it always does.
 *
 * Strict: a line that breaks the grammar is an error, never a guess.
 */
#ifndef MXG_MILTER_KVPARSE_H
#define MXG_MILTER_KVPARSE_H

#include <stddef.h>

struct kv_field {
    const char *key;   /* NUL-terminated */
    const char *value; /* unescaped; may hold NUL bytes (\x00); value[len] is NUL */
    size_t len;
};

/* One parsed line; its fields point into its own buffer, valid until the next kv_parse or kv_line_free. */
struct kv_line {
    struct kv_field *field;
    size_t n;
    const char *text; /* mxguard's text after ": "; NULL when the line has none */
    /* private */
    size_t cap;
    char *buf;
    size_t bufsz;
};

void kv_line_init(struct kv_line *l);
void kv_line_free(struct kv_line *l);

/*
 * Parse line (len bytes, without its newline) into l: 0; or -1 with a
 * static message in *error_r and the byte offset where the line broke
 * the grammar in *at (at may be NULL).
 */
int kv_parse(struct kv_line *l, const char *line, size_t len, const char **error_r, size_t *at);

/* The first field named key, or NULL. */
const struct kv_field *kv_get(const struct kv_line *l, const char *key);

#endif
