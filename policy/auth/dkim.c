/*
 * dkim.c: DKIM verification (RFC 6376, RFC 8463) with libopendkim.
 *
 * One DKIM_LIB for the process, one DKIM handle per message; headers and
 * body go to libopendkim as they arrive, nothing keeps a copy of the
 * message. Signature processing is delayed to the end of the message
 * (DKIM_LIBFLAGS_DELAYSIGPROC) so the keys asked for at the end of the
 * headers arrive while the body streams in. Must never report a DNS
 * failure as anything but temperror, never feed libopendkim past a
 * configured limit, never let a message cost more than the signature
 * cap in key lookups and body hashes, and never let an rsa-sha1
 * signature pass (RFC 8301): libopendkim would.
 */
#include "policy/auth/dkim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendkim/dkim.h>

#include "policy/auth/dkim_dns.h"

struct dkim_checker {
    DKIM_LIB *lib;
    struct dns_resolver *r;
    struct dkim_limits lim;
};

struct dkim_check {
    struct dkim_checker *c;
    DKIM *dkim;
    char id[64];               /* libopendkim keeps the pointer, not a copy */
    struct dkim_keys keys;
    unsigned nheaders;
    size_t header_bytes;
    size_t body_bytes;
    unsigned nsigs;            /* DKIM-Signature fields seen */
    bool eoh_done;
    bool header_limit;         /* a header limit was hit: nothing is verified */
    bool body_truncated;
    bool broken;               /* an internal error: every result is temperror */
    DKIM_STAT lib_status;      /* dkim_eoh()'s, or the first body error: not OK, no more body */
    char problem[128];
};

/* ---- the checker --------------------------------------------------------- */

static void limits_defaults(struct dkim_limits *l)
{
    if (l->max_signatures == 0)
        l->max_signatures = 5;
    if (l->max_signatures > DKIM_SIGS_MAX)
        l->max_signatures = DKIM_SIGS_MAX;
    if (l->min_rsa_bits == 0)
        l->min_rsa_bits = 1024;
    if (l->max_headers == 0)
        l->max_headers = 1000;
    if (l->max_header_bytes == 0)
        l->max_header_bytes = 256 * 1024;
    if (l->max_body_bytes == 0)
        l->max_body_bytes = (size_t)64 * 1024 * 1024;
    if (l->deadline_ms <= 0)
        l->deadline_ms = 10000;
}

static DKIM_CBSTAT prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs);
static bool sig_rsa_sha1(DKIM_SIGINFO *sig);

static int checker_options(DKIM_LIB *lib, const struct dkim_limits *lim)
{
    /* FIXCRLF: libmilter hands folded header values with bare LF.
       BADSIGHANDLES: a malformed signature is reported (permerror), not
       taken for no signature. No key cache (DKIM_LIBFLAGS_CACHE): the
       resolver caches, and libopendkim's cache is one more shared state. */
    unsigned flags = DKIM_LIBFLAGS_FIXCRLF | DKIM_LIBFLAGS_BADSIGHANDLES | DKIM_LIBFLAGS_DELAYSIGPROC;
    unsigned minbits = lim->min_rsa_bits;

    if (dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags) != DKIM_STAT_OK ||
        dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits, sizeof minbits) != DKIM_STAT_OK ||
        dkim_set_prescreen(lib, prescreen) != DKIM_STAT_OK)
        return -1;
    return 0;
}

struct dkim_checker *dkim_checker_new(struct dns_resolver *r, const struct dkim_limits *lim,
                                      const char **error_r)
{
    struct dkim_checker *c = calloc(1, sizeof *c);

    if (c == NULL || (c->lib = dkim_init(NULL, NULL)) == NULL) {
        *error_r = "out of memory";
        free(c);
        return NULL;
    }
    c->r = r;
    if (lim != NULL)
        c->lim = *lim;
    limits_defaults(&c->lim);
    if (checker_options(c->lib, &c->lim) < 0) {
        *error_r = "libopendkim refused an option";
        dkim_checker_free(c);
        return NULL;
    }
    /* Configured once, before any thread uses the handle. */
    dkim_keys_hook(c->lib, r);
    return c;
}

void dkim_checker_free(struct dkim_checker *c)
{
    if (c == NULL)
        return;
    if (c->lib != NULL)
        dkim_close(c->lib);
    free(c);
}

bool dkim_checker_ed25519(const struct dkim_checker *c)
{
    return dkim_libfeature(c->lib, DKIM_FEATURE_ED25519);
}

/* ---- one message ----------------------------------------------------------- */

struct dkim_check *dkim_check_new(struct dkim_checker *c, const char *id)
{
    struct dkim_check *m = calloc(1, sizeof *m);
    DKIM_STAT st;

    if (m == NULL)
        return NULL;
    m->c = c;
    snprintf(m->id, sizeof m->id, "%s", id != NULL ? id : "");
    dkim_keys_init(&m->keys, c->r, c->lim.deadline_ms);
    m->dkim = dkim_verify(c->lib, (const unsigned char *)m->id, NULL, &st);
    if (m->dkim == NULL || dkim_set_user_context(m->dkim, m) != DKIM_STAT_OK) {
        dkim_check_free(m);
        return NULL;
    }
    return m;
}

void dkim_check_free(struct dkim_check *m)
{
    if (m == NULL)
        return;
    if (m->dkim != NULL)
        dkim_free(m->dkim);
    dkim_keys_free(&m->keys);
    free(m);
}

/*
 * Out of memory: our failure, the caller tempfails. libopendkim's
 * DKIM_STAT_INTERNAL is not counted: it also comes from input it cannot
 * handle, and a message must not be able to make itself retried forever
 * (it becomes permerror, "not verifiable").
 */
static bool internal_error(DKIM_STAT st)
{
    return st == DKIM_STAT_NORESOURCE;
}

/* Past a header limit nothing is verified (the result is permerror). */
static bool header_limit(struct dkim_check *m, size_t len)
{
    const struct dkim_limits *l = &m->c->lim;

    m->nheaders++;
    m->header_bytes += len + 2;
    if (m->nheaders > l->max_headers)
        snprintf(m->problem, sizeof m->problem, "more than %u header fields: no signature verified",
                 l->max_headers);
    else if (m->header_bytes > l->max_header_bytes)
        snprintf(m->problem, sizeof m->problem, "header fields over %zu bytes: no signature verified",
                 l->max_header_bytes);
    else
        return false;
    m->header_limit = true;
    return true;
}

int dkim_check_header(struct dkim_check *m, const char *name, const char *value)
{
    const struct dkim_limits *l = &m->c->lim;
    size_t nlen = strlen(name), vlen = strlen(value), len = nlen + 1 + vlen;
    bool is_sig = strcasecmp(name, "DKIM-Signature") == 0;
    unsigned char *h;
    DKIM_STAT st;

    if (is_sig)
        m->nsigs++;
    if (m->header_limit || m->broken || m->eoh_done)
        return m->broken ? -1 : 0;
    if (header_limit(m, len))
        return 0;
    /* Each signature libopendkim sees costs a body hash: the ones past
       the cap are never shown to it (a signature that signs them fails). */
    if (is_sig && m->nsigs > l->max_signatures)
        return 0;
    if (len == 0 || (h = malloc(len + 1)) == NULL) {
        m->broken = true;
        return -1;
    }
    memcpy(h, name, nlen);
    h[nlen] = ':';
    memcpy(h + nlen + 1, value, vlen + 1);
    st = dkim_header(m->dkim, h, len);
    free(h);
    /* A field libopendkim finds malformed is left out; only running out
       of memory is our failure. */
    if (internal_error(st)) {
        m->broken = true;
        return -1;
    }
    return 0;
}

/* libopendkim's end-of-headers callback: ask for every key now. */
static DKIM_CBSTAT prescreen(DKIM *dkim, DKIM_SIGINFO **sigs, int nsigs)
{
    struct dkim_check *m = dkim_get_user_context(dkim);
    char name[DKIM_KEYNAME_MAX + 1];

    if (m == NULL)
        return DKIM_CBSTAT_CONTINUE;
    for (int i = 0; i < nsigs; i++) {
        if (dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN)
            continue; /* malformed: no key is needed */
        if (sig_rsa_sha1(sigs[i])) {
            /* Never verified (RFC 8301 3.1): no key, no signature check;
               sig_result says why. */
            (void)dkim_sig_seterror(sigs[i], DKIM_SIGERROR_INVALID_A);
            continue;
        }
        if (dkim_keys_name((const char *)dkim_sig_getselector(sigs[i]),
                           (const char *)dkim_sig_getdomain(sigs[i]), name, sizeof name) < 0) {
            (void)dkim_sig_seterror(sigs[i], DKIM_SIGERROR_DOMAIN);
            continue; /* no question about a name that is no DNS name */
        }
        (void)dkim_keys_ask(&m->keys, name);
    }
    return DKIM_CBSTAT_CONTINUE;
}

/*
 * libopendkim 2.11 (dkim_canon_selecthdrs) sizes its array of selected
 * fields by the fields of the message, then clears one slot per h= name
 * while it has found fewer: a signature whose h= names every field of the
 * message and then more writes a pointer past the array, and the heap
 * breaks. A field no h= can name keeps the count above any selection:
 * its name holds a space, and libopendkim deletes every space from a tag
 * value before it splits h=. No signature ever covers it.
 */
static const char guard_field[] = "X-Mxguard Unsignable:x";

int dkim_check_eoh(struct dkim_check *m)
{
    if (m->header_limit || m->broken || m->eoh_done)
        return m->broken ? -1 : 0;
    m->eoh_done = true;
    unsigned char guard[sizeof guard_field];
    memcpy(guard, guard_field, sizeof guard);
    if (internal_error(dkim_header(m->dkim, guard, sizeof guard - 1))) {
        m->broken = true;
        return -1;
    }
    dkim_keys_serve(&m->keys);
    m->lib_status = dkim_eoh(m->dkim);
    dkim_keys_serve(NULL);
    if (internal_error(m->lib_status)) {
        m->broken = true;
        return -1;
    }
    return 0;
}

int dkim_check_body(struct dkim_check *m, const unsigned char *data, size_t len)
{
    size_t room = m->c->lim.max_body_bytes - m->body_bytes;
    DKIM_STAT st;

    if (!m->eoh_done || m->header_limit || m->broken || m->lib_status != DKIM_STAT_OK || len == 0)
        return m->broken ? -1 : 0;
    if (len > room) {
        m->body_truncated = true;
        len = room;
    }
    if (len == 0)
        return 0;
    m->body_bytes += len;
    /* libopendkim takes the chunk without const; it does not write to it. */
    st = dkim_body(m->dkim, (unsigned char *)data, len);
    if (internal_error(st)) {
        m->broken = true;
        return -1;
    }
    if (st != DKIM_STAT_OK)
        m->lib_status = st; /* no more body, and nothing to verify */
    return 0;
}

/* ---- results ----------------------------------------------------------------- */

/* Printable ASCII of src (no spaces), cut to fit: for logs and headers. */
static void copy_token(char *dst, size_t dstsz, const unsigned char *src, size_t max)
{
    size_t o = 0;

    for (; src != NULL && *src != '\0' && o + 1 < dstsz && o < max; src++) {
        if (*src == ' ' || *src == '\t' || *src == '\r' || *src == '\n')
            continue;
        dst[o++] = *src > 0x20 && *src < 0x7f ? (char)*src : '?';
    }
    dst[o] = '\0';
}

/*
 * a=rsa-sha1, in any case: libopendkim would verify it. Read from the tag
 * itself, not dkim_sig_getsignalg(): that one is DKIM_SIGN_RSASHA1 (0)
 * for a signature whose a= libopendkim never got to.
 */
static bool sig_rsa_sha1(DKIM_SIGINFO *sig)
{
    char a[24];

    copy_token(a, sizeof a, dkim_sig_gettagvalue(sig, false, (unsigned char *)"a"), sizeof a);
    return strcasecmp(a, "rsa-sha1") == 0;
}

static void sig_identity(DKIM_SIGINFO *sig, struct dkim_sig_outcome *o)
{
    const unsigned char *d = dkim_sig_getdomain(sig), *s = dkim_sig_getselector(sig);
    unsigned bits = 0;

    if (d == NULL)
        d = dkim_sig_gettagvalue(sig, false, (unsigned char *)"d");
    if (s == NULL)
        s = dkim_sig_gettagvalue(sig, false, (unsigned char *)"s");
    copy_token(o->domain, sizeof o->domain, d, sizeof o->domain);
    for (char *p = o->domain; *p != '\0'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p += 32;
    copy_token(o->selector, sizeof o->selector, s, sizeof o->selector);
    copy_token(o->algorithm, sizeof o->algorithm, dkim_sig_gettagvalue(sig, false, (unsigned char *)"a"),
               sizeof o->algorithm);
    copy_token(o->b, sizeof o->b, dkim_sig_gettagvalue(sig, false, (unsigned char *)"b"), 8);
    if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK)
        o->key_bits = bits;
    /* libopendkim sizes RSA keys only; an ed25519 public key is 256 bits. */
    if (o->key_bits == 0 && (dkim_sig_getflags(sig) & DKIM_SIGFLAG_PASSED) != 0 &&
        strcasecmp(o->algorithm, "ed25519-sha256") == 0)
        o->key_bits = 256;
}

static void sig_set(struct dkim_sig_outcome *o, enum auth_result r, const char *problem)
{
    o->result = r;
    snprintf(o->problem, sizeof o->problem, "%s", problem);
}

/* A key lookup that failed: temperror, unless asking again cannot help. */
static void sig_keyfail(const struct dkim_check *m, struct dkim_sig_outcome *o)
{
    char name[DKIM_KEYNAME_MAX + 1];
    const char *why = NULL;
    bool permanent = false;

    if (dkim_keys_name(o->selector, o->domain, name, sizeof name) == 0)
        why = dkim_keys_why(&m->keys, name, &permanent);
    snprintf(o->problem, sizeof o->problem, "key lookup failed: %s", why != NULL ? why : "DNS error");
    o->result = permanent ? AUTH_PERMERROR : AUTH_TEMPERROR;
}

/* Signature or body hash mismatch: fail, saying whether our body limit
   is why. */
static void sig_mismatch(const struct dkim_check *m, struct dkim_sig_outcome *o, int err, int bh)
{
    o->result = AUTH_FAIL;
    if (m->body_truncated && bh != DKIM_SIGBH_MATCH)
        snprintf(o->problem, sizeof o->problem, "body longer than the %zu bytes hashed",
                 m->c->lim.max_body_bytes);
    else
        sig_set(o, AUTH_FAIL,
                err == DKIM_SIGERROR_TOOLARGE_L ? "l= longer than the body"
                : bh == DKIM_SIGBH_MISMATCH    ? "body hash mismatch"
                                               : "signature mismatch");
}

/*
 * libopendkim's verdict on one signature, in RFC 8601 words. A key that
 * does not exist is permerror (RFC 6376 6.1.2 step 3: PERMFAIL, nothing to
 * verify with). A revoked key (empty p=) is fail: RFC 6376 6.1.2 step 7
 * says to "treat this as a failed signature check", the signer disowns
 * every signature made with it. A key below min_rsa_bits is policy (RFC
 * 8301 3.2: not a valid signature; RFC 8601 2.7.1: signed, but refused by
 * the receiver's policy): rules may treat it as fail. A broken signature
 * or key record, an expired signature, is permerror.
 *
 * a=rsa-sha1 is permerror, whatever else is true of the signature. RFC
 * 8301 3.1: rsa-sha1 "MUST NOT be used for signing or verifying", such
 * signatures "have permanently failed evaluation as discussed in Section
 * 6.1 of [RFC6376]", where an algorithm the verifier does not implement is
 * a PERMFAIL: RFC 8601 2.7.1 calls that permerror (an error "that is
 * unrecoverable"; "a later attempt is unlikely to produce a final
 * result"), the result mxguard gives any other a= it does not know. Not
 * fail: nothing was verified and found wrong. Not policy: that one is for
 * the receiver's own settings (the key size above); no verifier may
 * accept rsa-sha1.
 */
static void sig_result(const struct dkim_check *m, DKIM_SIGINFO *sig, struct dkim_sig_outcome *o)
{
    unsigned flags = dkim_sig_getflags(sig);
    int err = dkim_sig_geterror(sig), bh = dkim_sig_getbh(sig);

    if (sig_rsa_sha1(sig)) {
        sig_set(o, AUTH_PERMERROR, "rsa-sha1 is not allowed (RFC 8301)");
        return;
    }
    if ((flags & DKIM_SIGFLAG_PASSED) != 0 && bh == DKIM_SIGBH_MATCH && err == DKIM_SIGERROR_OK) {
        sig_set(o, AUTH_PASS, "");
        return;
    }
    switch (err) {
    case DKIM_SIGERROR_KEYFAIL:
        sig_keyfail(m, o);
        break;
    case DKIM_SIGERROR_NOKEY:
        sig_set(o, AUTH_PERMERROR, "no key record (NXDOMAIN or no TXT)");
        break;
    case DKIM_SIGERROR_KEYREVOKED:
        sig_set(o, AUTH_FAIL, "key revoked (empty p=)");
        break;
    case DKIM_SIGERROR_KEYTOOSMALL:
        snprintf(o->problem, sizeof o->problem, "key of %u bits, fewer than %u", o->key_bits,
                 m->c->lim.min_rsa_bits);
        o->result = AUTH_POLICY;
        break;
    case DKIM_SIGERROR_TOOLARGE_L:
    case DKIM_SIGERROR_BADSIG:
        sig_mismatch(m, o, err, bh);
        break;
    case DKIM_SIGERROR_DOMAIN:
        sig_set(o, AUTH_PERMERROR, "d= or s= is not a usable DNS name");
        break;
    case DKIM_SIGERROR_UNKNOWN:
        /* Never processed: libopendkim ran out of resources on it. */
        sig_set(o, AUTH_TEMPERROR, "not verified (internal error)");
        break;
    default:
        /* Broken signature or key record (syntax, version, hash, key
           type, expiry, i=/d= mismatch...): cannot ever verify. */
        sig_set(o, AUTH_PERMERROR,
                dkim_sig_geterrorstr(err) != NULL ? dkim_sig_geterrorstr(err) : "unverifiable signature");
        break;
    }
}

/* pass if one passed, else temperror if one did, else the first result. */
static enum auth_result overall(const struct dkim_outcome *out)
{
    for (unsigned i = 0; i < out->nevaluated; i++)
        if (out->sig[i].result == AUTH_PASS)
            return AUTH_PASS;
    for (unsigned i = 0; i < out->nevaluated; i++)
        if (out->sig[i].result == AUTH_TEMPERROR)
            return AUTH_TEMPERROR;
    return out->nevaluated > 0 ? out->sig[0].result : AUTH_NONE;
}

static void eom_verify(struct dkim_check *m, struct dkim_outcome *out)
{
    DKIM_SIGINFO **sigs = NULL;
    int n = 0;
    bool testkey = false;

    dkim_keys_serve(&m->keys);
    (void)dkim_eom(m->dkim, &testkey);
    dkim_keys_serve(NULL);
    if (dkim_getsiglist(m->dkim, &sigs, &n) != DKIM_STAT_OK || sigs == NULL)
        n = 0;
    for (int i = 0; i < n && out->nevaluated < DKIM_SIGS_MAX; i++) {
        struct dkim_sig_outcome *o = &out->sig[out->nevaluated++];
        sig_identity(sigs[i], o);
        sig_result(m, sigs[i], o);
    }
}

void dkim_check_eom(struct dkim_check *m, struct dkim_outcome *out)
{
    memset(out, 0, sizeof *out);
    out->nsigs = m->nsigs;
    if (m->broken) {
        out->result = AUTH_TEMPERROR;
        snprintf(out->problem, sizeof out->problem, "internal error");
        return;
    }
    snprintf(out->problem, sizeof out->problem, "%s", m->problem);
    if (m->nsigs == 0) {
        out->result = AUTH_NONE;
        return;
    }
    if (m->header_limit) {
        /* Cannot be verified, and will not be on a retry either. */
        out->result = AUTH_PERMERROR;
        return;
    }
    if (m->eoh_done && (m->lib_status == DKIM_STAT_OK || m->lib_status == DKIM_STAT_NOSIG))
        eom_verify(m, out);
    if (m->nsigs > out->nevaluated && out->problem[0] == '\0')
        snprintf(out->problem, sizeof out->problem, "%u signatures, %u evaluated", m->nsigs,
                 out->nevaluated);
    out->result = overall(out);
    if (out->nevaluated == 0) {
        /* Signed, yet libopendkim could not even start (no From:, ...). */
        out->result = AUTH_PERMERROR;
        snprintf(out->problem, sizeof out->problem, "not verifiable: %s",
                 m->eoh_done ? dkim_getresultstr(m->lib_status) : "no end of headers");
    }
}
