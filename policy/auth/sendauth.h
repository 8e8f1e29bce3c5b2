/*
 * sendauth.h: the sender-authentication state of one session: SPF
 * outcomes (asked once, kept), the DKIM verification and the DMARC
 * evaluation of the current message (its From: fields read as they
 * pass), and the Authentication-Results headers a forger planted.
 *
 * Rule facts read it through the envelope (env->auth); the daemon and
 * the session simulator feed it headers and body and ask it for the
 * headers to add. Nothing here knows about libmilter.
 */
#ifndef MXG_POLICY_SENDAUTH_H
#define MXG_POLICY_SENDAUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/auth/dkim.h"
#include "policy/auth/dmarc.h"
#include "policy/smtp/envelope.h"
#include "policy/auth/spf.h"

#define SENDAUTH_FORGED_MAX 1000 /* forged A-R headers a message may carry before it is refused */

/* Process-wide: what every session shares. Checkers may be NULL (no resolver). */
struct sendauth_config {
    struct spf_checker *spf;
    struct dkim_checker *dkim;
    struct dmarc_checker *dmarc;
    const char *authserv_id;     /* ours: the A-R headers we add and remove */
};

struct sendauth;

/* want_dkim: feed headers and body to DKIM. NULL when out of memory. */
struct sendauth *sendauth_new(const struct sendauth_config *cfg, bool want_dkim);
void sendauth_free(struct sendauth *a);

/* A new message: its SPF (MAIL FROM), DKIM and DMARC results and its From: fields are forgotten. */
void sendauth_new_message(struct sendauth *a);

/*
 * The SPF outcome for an identity, evaluated on first use and kept (MAIL
 * FROM per message, HELO while the HELO stays the same). Without a
 * checker: temperror. Never NULL.
 */
const struct spf_outcome *sendauth_spf(struct sendauth *a, const struct envelope *env,
                                       enum spf_identity id);
/* The outcome if it was evaluated, else NULL (for headers that report only what was checked). */
const struct spf_outcome *sendauth_spf_known(const struct sendauth *a, enum spf_identity id);

/*
 * A header of the message: to DKIM, its author domains if it is From:
 * (for DMARC), and remembered if it is an A-R claiming our id. wire: value is as it was after the colon, leading
 * whitespace and all (SMFIP_HDR_LEADSPC); else the MTA ate one space,
 * which DKIM gets back by a guess. -1: out of memory.
 */
int sendauth_header(struct sendauth *a, const char *name, const char *value, bool wire);
/* The end of the headers; called by the first body chunk or the verdict if not before. */
int sendauth_eoh(struct sendauth *a);
int sendauth_body(struct sendauth *a, const unsigned char *data, size_t len);

/* The DKIM outcome of the message, verified on first use. Never NULL. */
const struct dkim_outcome *sendauth_dkim(struct sendauth *a);
/* The outcome if the message was verified, else NULL (records report only what was checked). */
const struct dkim_outcome *sendauth_dkim_known(const struct sendauth *a);

/*
 * The DMARC outcome of the message, evaluated on first use from its From:
 * fields, the MAIL FROM SPF outcome and the DKIM outcome (both evaluated
 * first if they were not). Without a checker: temperror (none without a
 * From: field). Never NULL.
 */
const struct dmarc_outcome *sendauth_dmarc(struct sendauth *a, const struct envelope *env);
/* The outcome if DMARC was evaluated for the message, else NULL. */
const struct dmarc_outcome *sendauth_dmarc_known(const struct sendauth *a);

/* Microseconds spent on SPF and on DKIM since the session began (running totals). */
void sendauth_time_us(const struct sendauth *a, unsigned long *spf_us, unsigned long *dkim_us);
/* The same for DMARC (its own DNS questions and libopendmarc; not SPF or DKIM). */
unsigned long sendauth_dmarc_us(const struct sendauth *a);

/*
 * The positions (1-based, among headers of that name) of the
 * Authentication-Results headers that claim our authserv-id, lowest
 * first. *overflow: more than SENDAUTH_FORGED_MAX were seen.
 */
const unsigned *sendauth_forged(const struct sendauth *a, size_t *n, bool *overflow);

/* Our Authentication-Results value (auth, spf, dkim, dmarc when it was evaluated, iprev), folded.
   0, or -1 when it does not fit. */
int sendauth_authres_value(struct sendauth *a, const struct envelope *env, char *out, size_t outsz);

/* A Received-SPF value for the MAIL FROM identity. 0, or -1 when it does not fit. */
int sendauth_received_spf(struct sendauth *a, const struct envelope *env, char *out, size_t outsz);

const char *sendauth_authserv_id(const struct sendauth *a);

/*
 * DKIM signing (dkim-sign): with a signer (the rule set's keys, which
 * outlive the session) the headers and body go to it too. At the end,
 * sendauth_dkim_sign makes the signatures of the key lines with selector
 * (NULL: all) not made yet: their values (valid until the next message)
 * in values[], *n of them (at most DKIM_SIGN_MAX). A message that cannot
 * be signed (no From:, no key) is not an error: the outcome says why.
 * 0, or -1 with *why_r on an internal error (the message is tempfailed).
 */
struct dkim_signer;
struct dkim_sign_outcome;
void sendauth_set_signer(struct sendauth *a, const struct dkim_signer *s);
int sendauth_dkim_sign(struct sendauth *a, const char *selector, const char **values, size_t *n,
                       const char **why_r);
/* What the dkim-sign effects of this message made, or NULL when none ran. */
const struct dkim_sign_outcome *sendauth_dkim_signed(const struct sendauth *a);

#endif
