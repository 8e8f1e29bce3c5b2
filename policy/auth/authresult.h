/*
 * authresult.h: the result words of sender authentication (RFC 8601),
 * shared by SPF, DKIM and later DMARC so rules, headers and logs spell
 * them one way.
 */
#ifndef MXG_POLICY_AUTHRESULT_H
#define MXG_POLICY_AUTHRESULT_H

enum auth_result {
    AUTH_NONE = 0,   /* nothing to check (no record, no signature) */
    AUTH_PASS,
    AUTH_FAIL,
    AUTH_SOFTFAIL,   /* SPF only */
    AUTH_NEUTRAL,    /* SPF only */
    AUTH_POLICY,     /* DKIM: valid, but refused by local policy (e.g. a key too short) */
    AUTH_TEMPERROR,  /* a DNS question could not be answered now: never a failure */
    AUTH_PERMERROR   /* the published record or signature is broken */
};

/* "none", "pass", ...: the RFC 8601 result keyword. */
const char *auth_result_name(enum auth_result r);

#endif
