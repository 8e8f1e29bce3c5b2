/*
 * fuzz_dmarc_from.c: libFuzzer harness for the From:/DMARC input path:
 * the From: field values a client sends (policy/auth/dmarc_from.c), and
 * the _dmarc TXT record that whoever runs the sender's name servers
 * publishes, which our code hands to libopendmarc's record parser.
 *
 * Input: From: field values separated by "\n\n", then, after a line
 * "%" ("\n%\n"), the DMARC record. Without that line the whole input is
 * both the values and the record, so either path is explored from the
 * start.
 *
 * Invariants checked, not just "no crash": the field count is the
 * number of values; the domains kept are distinct, NUL-terminated,
 * lower-case LDH names of at most 253 octets; the problem agrees with
 * the counts; a second run over the same values gives the same result.
 * For the record: a record libopendmarc accepts has p= none, quarantine
 * or reject, adkim and aspf r or s, pct within 0..100, and report URIs
 * shorter than the library's 256-byte buffers.
 *
 * tests/dmarc/dmarc_parse_driver.c includes this file and gives it a
 * main(), so the same record path runs under valgrind in the plain
 * build (libopendmarc is not instrumented: ASan cannot see inside it).
 * Must never ask DNS: no opendmarc_policy_query_dmarc*(), and the rua/ruf
 * fetches are made without a buffer (with one, libopendmarc looks up the
 * report domains' authorization records itself).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <opendmarc/dmarc.h>

#include "policy/auth/dmarc_from.h"

#define FUZZ_RECORD_MAX 65536 /* a TXT RRset's text cannot be longer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* --- part 1: the From: field values --------------------------------------- */

static bool domain_ok(const char *d)
{
    size_t n = strnlen(d, DMARC_DOMAIN_MAX + 1);

    if (n == 0 || n > DMARC_DOMAIN_MAX || d[0] == '.' || d[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return false;
    }
    return strstr(d, "..") == NULL;
}

static void from_run(const char *data, size_t size, struct dmarc_from *f)
{
    size_t start = 0;

    dmarc_from_init(f);
    for (;;) {
        const char *sep = size - start >= 2 ? memmem(data + start, size - start, "\n\n", 2) : NULL;
        size_t end = sep != NULL ? (size_t)(sep - data) : size;

        dmarc_from_add(f, data + start, end - start);
        if (sep == NULL)
            break;
        start = end + 2;
    }
    dmarc_from_finish(f);
}

static void from_check(const char *data, size_t size)
{
    static struct dmarc_from f, again;
    unsigned values = 1;

    for (size_t i = 0; i + 1 < size; i++)
        if (data[i] == '\n' && data[i + 1] == '\n')
            values++, i++;
    from_run(data, size, &f);
    if (f.fields != values || f.ndomains > DMARC_FROM_DOMAINS_MAX)
        abort();
    if (f.more_domains && f.ndomains != DMARC_FROM_DOMAINS_MAX)
        abort();
    for (unsigned i = 0; i < f.ndomains; i++) {
        if (!domain_ok(f.domain[i]))
            abort();
        for (unsigned j = 0; j < i; j++)
            if (strcmp(f.domain[i], f.domain[j]) == 0)
                abort();
    }
    if (f.problem == DMARC_FROM_OK && (f.fields != 1 || f.ndomains != 1 || f.more_domains))
        abort();
    if (f.problem == DMARC_FROM_MISSING || (f.ndomains > 1 && f.problem == DMARC_FROM_OK))
        abort();
    if (f.fields > 1 && f.problem != DMARC_FROM_FIELDS && f.problem != DMARC_FROM_NO_DOMAIN)
        abort();
    if (f.ndomains == 0 && f.problem != DMARC_FROM_NO_DOMAIN)
        abort();
    if (dmarc_from_problem_text(f.problem) == NULL)
        abort();
    from_run(data, size, &again);
    if (memcmp(&f, &again, sizeof f) != 0)
        abort();
}

/* --- part 2: the DMARC record, through libopendmarc directly ----------------
 * Until policy/auth/dmarc.c exposes its own "parse a record string"
 * function (branch dmarc14), this calls libopendmarc as dmarc.c does:
 * the record text as a C string, for a domain, no DNS. */

struct record_view {
    int rc; /* opendmarc_policy_parse_dmarc() */
    int p, sp, pct, adkim, aspf;
    int policy; /* opendmarc_get_policy_to_enforce() */
    int nrua, nruf;
    size_t longest_uri;
};

static void record_library_init(void)
{
    static bool done;
    static OPENDMARC_LIB_T lib;

    if (done)
        return;
    memset(&lib, 0, sizeof lib);
    lib.tld_type = OPENDMARC_TLD_TYPE_NONE;
    if (opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY)
        abort();
    done = true;
}

static int count_uris(u_char **list, size_t *longest)
{
    int n = 0;

    for (; list != NULL && list[n] != NULL; n++) {
        size_t len = strlen((const char *)list[n]);
        if (len > *longest)
            *longest = len;
    }
    return n;
}

/* One record (text; a NUL ends it, as for any C string) for example.org. */
static void record_parse(const char *text, struct record_view *v)
{
    DMARC_POLICY_T *pctx;
    u_char domain[DMARC_MAXHOSTNAMELEN];

    record_library_init();
    memset(v, 0, sizeof *v);
    pctx = opendmarc_policy_connect_init((u_char *)"192.0.2.1", 0);
    if (pctx == NULL)
        abort();
    v->rc = opendmarc_policy_parse_dmarc(pctx, (u_char *)"example.org", (u_char *)text);
    opendmarc_policy_fetch_p(pctx, &v->p);
    opendmarc_policy_fetch_sp(pctx, &v->sp);
    opendmarc_policy_fetch_pct(pctx, &v->pct);
    opendmarc_policy_fetch_adkim(pctx, &v->adkim);
    opendmarc_policy_fetch_aspf(pctx, &v->aspf);
    v->nrua = count_uris(opendmarc_policy_fetch_rua(pctx, NULL, 0, 1), &v->longest_uri);
    v->nruf = count_uris(opendmarc_policy_fetch_ruf(pctx, NULL, 0, 1), &v->longest_uri);
    opendmarc_policy_fetch_utilized_domain(pctx, domain, sizeof domain);
    v->policy = opendmarc_get_policy_to_enforce(pctx);
    opendmarc_policy_connect_shutdown(pctx);
}

static void record_check(const char *data, size_t size)
{
    static char text[FUZZ_RECORD_MAX + 1];
    struct record_view v;

    if (size > FUZZ_RECORD_MAX)
        size = FUZZ_RECORD_MAX;
    memcpy(text, data, size);
    text[size] = '\0';
    record_parse(text, &v);
    if (v.rc != DMARC_PARSE_OKAY)
        return;
    if (v.p != DMARC_RECORD_P_NONE && v.p != DMARC_RECORD_P_QUARANTINE && v.p != DMARC_RECORD_P_REJECT)
        abort();
    if ((v.adkim != 'r' && v.adkim != 's') || (v.aspf != 'r' && v.aspf != 's'))
        abort();
    if (v.pct < 0 || v.pct > 100 || v.longest_uri >= 256)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *sep = size >= 3 ? memmem(in, size, "\n%\n", 3) : NULL;

    if (sep == NULL) {
        from_check(in, size);
        record_check(in, size);
    } else {
        from_check(in, (size_t)(sep - in));
        record_check(sep + 3, size - (size_t)(sep - in) - 3);
    }
    return 0;
}
