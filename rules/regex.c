/*
 * regex.c: a thin wrapper over PCRE2.
 *
 * Patterns come from the admin, subjects from clients: every match runs
 * with a match limit, so a pathological pattern costs a bounded amount of
 * work and reports an error (tempfail) instead of stalling a session.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "rules/regex.h"

#include <pcre2.h>
#include <stdlib.h>

#define MATCH_LIMIT 100000
#define DEPTH_LIMIT 10000

struct regex {
    pcre2_code *code;
};

struct regex *regex_compile(const char *pattern, const char **error_r, int *offset_r)
{
    static __thread char message[160];
    struct regex *re;
    int err;
    PCRE2_SIZE off;

    if ((re = calloc(1, sizeof *re)) == NULL) {
        *error_r = "out of memory";
        *offset_r = 0;
        return NULL;
    }
    re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &err, &off, NULL);
    if (re->code == NULL) {
        pcre2_get_error_message(err, (PCRE2_UCHAR *)message, sizeof message);
        *error_r = message;
        *offset_r = (int)off;
        free(re);
        return NULL;
    }
    /* Without JIT (some platforms) the interpreter still works. */
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    return re;
}

void regex_free(struct regex *re)
{
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    free(re);
}

int regex_match(const struct regex *re, const char *subject, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    int rc;

    if (md == NULL || mc == NULL) {
        pcre2_match_data_free(md);
        pcre2_match_context_free(mc);
        return -1;
    }
    pcre2_set_match_limit(mc, MATCH_LIMIT);
    pcre2_set_depth_limit(mc, DEPTH_LIMIT);
    rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, md, mc);
    pcre2_match_data_free(md);
    pcre2_match_context_free(mc);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}
