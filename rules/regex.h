/*
 * regex.h: PCRE2 regular expressions for rule conditions, compiled (and
 * JIT-compiled where the platform allows) once when the rules load.
 */
#ifndef MXG_RULES_REGEX_H
#define MXG_RULES_REGEX_H

#include <stdbool.h>
#include <stddef.h>

struct regex;

/*
 * Compile pattern (case-insensitive, UTF-8 off: facts are bytes). NULL on
 * error with *error_r (static) and *offset_r (byte offset in pattern).
 */
struct regex *regex_compile(const char *pattern, const char **error_r, int *offset_r);
void regex_free(struct regex *re);

/* 1 match, 0 no match, -1 error (out of memory, match limit): tempfail. */
int regex_match(const struct regex *re, const char *subject, size_t len);

#endif
