/*
 * crash_shim.c: a test-only LD_PRELOAD library that makes mxguard crash
 * on one particular message, for tests/daemon/poison.sh. It interposes
 * pcre2_match_8 (rules/regex.c's pcre2_match with 8-bit code units) and
 * raises SIGSEGV when the subject holds the marker POISON-b6f1; every
 * other call goes on to libpcre2.
 *
 * Built by "make check" only and never installed: the production binary
 * has no crash trigger of its own.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MARKER "POISON-b6f1"

typedef int match_fn(const void *code, const uint8_t *subject, size_t length, size_t start,
                     uint32_t options, void *match_data, void *mcontext);

int pcre2_match_8(const void *code, const uint8_t *subject, size_t length, size_t start, uint32_t options,
                  void *match_data, void *mcontext);

int pcre2_match_8(const void *code, const uint8_t *subject, size_t length, size_t start, uint32_t options,
                  void *match_data, void *mcontext)
{
    static match_fn *next;

    /* PCRE2_ZERO_TERMINATED is ~0: the subject's own length then. */
    size_t n = length == (size_t)-1 ? strlen((const char *)subject) : length;

    if (subject != NULL && memmem(subject, n, MARKER, sizeof MARKER - 1) != NULL)
        raise(SIGSEGV);
    if (next == NULL)
        next = (match_fn *)dlsym(RTLD_NEXT, "pcre2_match_8");
    return next(code, subject, length, start, options, match_data, mcontext);
}
