/*
 * authres.h: Authentication-Results headers (RFC 8601): recognising the
 * ones that claim our authserv-id, and composing ours.
 *
 * Header values come from the client: parsing is bounded, never
 * allocates, and anything it cannot read claims nothing.
 */
#ifndef MXG_POLICY_AUTHRES_H
#define MXG_POLICY_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/auth/authresult.h"

#define AUTHRES_ID_MAX 255      /* an authserv-id we compare (a host name) */
#define AUTHRES_VALUE_MAX 4096  /* our header's value, folded */

/*
 * The authserv-id at the start of an Authentication-Results value: after
 * optional white space, folding and (nested) comments, a token or a
 * quoted string. Returns its length in out (unquoted), or -1 when the
 * value does not start with one or it is longer than outsz - 1.
 */
int authres_authserv_id(const char *value, size_t len, char *out, size_t outsz);

/* True when the header value claims to be from authserv_id (caseless, a trailing dot ignored). */
bool authres_claims(const char *value, size_t len, const char *authserv_id);

/* One method's result, as the composer takes it. */
struct authres_item {
    const char *method;          /* "spf", "dkim", "iprev", "auth" */
    enum auth_result result;
    const char *props[4][2];     /* ptype.property and value pairs ("smtp.mailfrom", "a@b"); NULL ends */
    const char *reason;          /* or NULL */
};

/*
 * Compose "authserv-id; method=result prop=value ...; ..." folded with
 * "\n\t" between results (libmilter's way to fold a header it adds).
 * Property values that are not safe tokens are quoted; control
 * characters are dropped. With no items: "authserv-id; none".
 * Returns 0, or -1 when it does not fit (nothing useful is half-written).
 */
int authres_compose(const char *authserv_id, const struct authres_item *items, size_t n, char *out,
                    size_t outsz);

#endif
