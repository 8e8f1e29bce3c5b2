/*
 * dkim_sign.h: DKIM signing (RFC 6376, RFC 8463) of outbound mail with
 * libopendkim, keys held in memory.
 *
 * A signer holds the key table's lines with their private keys, read
 * once when the rule set is loaded (rules/keytable.c) and freed with it.
 * A message is fed as the MTA delivers it: its headers are kept (bounded)
 * until their end, when the From: domain is known and a signing handle is
 * started for each key line that matches it; the body goes straight to
 * those handles, never copied. Nothing here knows about libmilter or the
 * rule language.
 */
#ifndef MXG_POLICY_DKIM_SIGN_H
#define MXG_POLICY_DKIM_SIGN_H

#include <stdbool.h>
#include <stddef.h>

#define DKIM_SIGN_MAX 4             /* signatures one message gets (key lines per domain) */
#define DKIM_SIGN_HEADERS_MAX 32    /* names in a line's h= */
#define DKIM_SIGN_HEADER_BYTES (256u * 1024) /* headers kept until their end */

enum dkim_sign_alg { DKIM_SIGN_ALG_RSA_SHA256, DKIM_SIGN_ALG_ED25519_SHA256 };

/* One line of the key table, as keytable.c read it. */
struct dkim_sign_line {
    char domain[256];       /* the From: domain, lower-case A-labels; with wildcard: the parent */
    bool wildcard;          /* "*.domain": every subdomain of domain (not domain itself) */
    char selector[64];
    char sdid[256];         /* d=; "": the From: domain (exact line) or the parent (wildcard) */
    enum dkim_sign_alg alg;
    bool simple_header, simple_body; /* c=; relaxed/relaxed by default */
    char *headers;          /* h= as written, "a:b:c"; NULL: the default list */
    char where[300];        /* "file:line", for logs */
};

/* Per message: the signatures made, or why none was. */
struct dkim_sign_sig {
    char d[256];
    char s[64];
    char a[24];             /* "rsa-sha256", "ed25519-sha256" */
};
struct dkim_sign_outcome {
    bool done;              /* a dkim-sign effect ran for this message */
    unsigned nsigs;
    struct dkim_sign_sig sig[DKIM_SIGN_MAX];
    char why[160];          /* none made: why ("no From: field", "no key for example.org", ...) */
};

struct dkim_signer;
struct dkim_sign_msg;

/* An empty signer. NULL when out of memory or libopendkim cannot start. */
struct dkim_signer *dkim_signer_new(const char **error_r);
void dkim_signer_free(struct dkim_signer *s);

/*
 * Read the private key at path for line (its where, alg set): refused
 * when it is not a regular file, when others may read it (mode & 007),
 * when OpenSSL cannot read it, when it is not of line's algorithm, or
 * when libopendkim cannot sign with it. On success the line and the key
 * are the signer's (line->headers taken over). 0, or -1 with err filled.
 */
int dkim_signer_add(struct dkim_signer *s, struct dkim_sign_line *line, const char *path,
                    char *err, size_t errsz);

/* Lines, and how many of them match domain exactly (counting wildcards
   only when no exact line does). */
size_t dkim_signer_count(const struct dkim_signer *s);
size_t dkim_signer_matches(const struct dkim_signer *s, const char *domain);
/* Whether some line has this selector. */
bool dkim_signer_has_selector(const struct dkim_signer *s, const char *selector);
/* Whether this libopendkim signs ed25519-sha256. */
bool dkim_signer_ed25519(const struct dkim_signer *s);

/* The default signed header fields, "from:to:..." (From: also oversigned). */
const char *dkim_sign_default_headers(void);

struct dmarc_from;
/* One message. from: its author domains as the caller reads them from the
   From: fields (policy/auth/dmarc_from.h), complete by the end of the headers
   and alive as long as the message. NULL when out of memory. */
struct dkim_sign_msg *dkim_sign_msg_new(const struct dkim_signer *s, const struct dmarc_from *from);
void dkim_sign_msg_free(struct dkim_sign_msg *m);
/*
 * Feed it: value is the header's value as on the wire (after the colon,
 * leading whitespace kept, CRLF inside folds); body chunks raw (CRLF).
 * 0, or -1 on an internal error (out of memory, libopendkim refused).
 * Past DKIM_SIGN_HEADER_BYTES the message is not signed (a reason, not an error).
 */
int dkim_sign_msg_header(struct dkim_sign_msg *m, const char *name, const char *value);
int dkim_sign_msg_eoh(struct dkim_sign_msg *m);
int dkim_sign_msg_body(struct dkim_sign_msg *m, const unsigned char *data, size_t len);
/*
 * Finish the handles of lines with selector (NULL: every line) that were
 * not finished yet: their DKIM-Signature values (after "DKIM-Signature:",
 * folded with "\n\t", no CR) go to values[], valid until the message is
 * freed; *n says how many. out records them, or why none was made.
 * 0, or -1 on an internal error (libopendkim failed to sign).
 */
int dkim_sign_msg_finish(struct dkim_sign_msg *m, const char *selector, const char **values, size_t *n,
                         struct dkim_sign_outcome *out);

#endif
