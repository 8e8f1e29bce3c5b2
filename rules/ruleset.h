/*
 * ruleset.h: a loaded rule file, immutable and shared by reference.
 *
 * The engine knows nothing of libmilter: milter/, the session simulator,
 * the unit tests and the fuzzers all drive it through this header.
 */
#ifndef MXG_RULES_RULESET_H
#define MXG_RULES_RULESET_H

#include <stdbool.h>
#include <stdio.h>

#include "policy/smtp/envelope.h"
#include "rules/diag.h"
#include "rules/stage.h"

struct ruleset;
struct rule;

enum action {
    ACTION_NONE = 0,  /* no rule decided: the stage's default (continue) */
    ACTION_CONTINUE,  /* this stage is done; the SMTP dialogue goes on */
    ACTION_ACCEPT,    /* accept the message (or connection) without further checks */
    ACTION_REJECT,
    ACTION_TEMPFAIL,
    ACTION_DISCARD,
    ACTION_GREYLIST,  /* tempfail a triplet seen first (with the rule's reply); else go on */
    /* Effects: they never decide; evaluation goes on to the next rule. */
    ACTION_ADD_HEADER,
    ACTION_CHANGE_HEADER,
    ACTION_DELETE_HEADER,
    ACTION_QUARANTINE,
    ACTION_TAG,
    ACTION_AUTH_RESULTS,  /* add our Authentication-Results header (forged ones always go) */
    ACTION_RECEIVED_SPF,  /* add a Received-SPF header */
    ACTION_DKIM_SIGN      /* sign with the key table's keys for the From: domain (arg: a selector or NULL) */
};

static inline bool action_is_effect(enum action a)
{
    return a >= ACTION_ADD_HEADER;
}

#define REPLY_TEXT_MAX 980 /* one SMTP reply line, as libmilter and postfix accept */
#define REPLY_LINES_MAX 32 /* lines of a multi-line reply (smfi_setmlreply) */
#define VERDICT_WARN_MAX 8 /* "warn" rules reported with one verdict */
#define VERDICT_EFFECTS_MAX 8 /* header edits and quarantine one stage can ask for */
#define EFFECT_VALUE_MAX 998  /* a header line, RFC 5322 */

/* A header edit or a quarantine a rule asked for, applied at end of message. */
struct effect {
    enum action action;       /* ADD_HEADER, CHANGE_HEADER, DELETE_HEADER, QUARANTINE */
    const char *name;         /* header name (the rule's; lives as long as the rule set) */
    char value[EFFECT_VALUE_MAX + 1]; /* expanded value or quarantine reason */
    const struct rule *rule;
};

struct verdict {
    enum action action;
    const struct rule *rule;      /* NULL when the stage default decided */
    bool has_reply;
    char code[4];                 /* "554" */
    char xcode[12];               /* "5.7.1" */
    char text[REPLY_TEXT_MAX + 1];/* expanded and sanitised; no % doubling yet;
                                     lines of a multi-line reply split by '\n' */
    /* "warn" rules that matched before the deciding one: what they would have done. */
    const struct rule *warned[VERDICT_WARN_MAX];
    unsigned nwarned;
    /* Effects of the rules that matched up to the deciding one. */
    struct effect effects[VERDICT_EFFECTS_MAX];
    unsigned neffects;
    unsigned effects_dropped;       /* past VERDICT_EFFECTS_MAX: logged */
    unsigned long long new_tags;    /* tags set at this stage */
    bool dns_failure;               /* evaluation failed on a DNS list with on-error tempfail */
    /* A multi-valued fact that matched in the deciding rule, and which of its values: %{fact} in the reply shows that one. */
    const struct fact_def *matched_fact;
    unsigned matched_index;
};

/*
 * Load and validate a rule file. On success returns a rule set with one
 * reference; on any error returns NULL. Every error and warning goes to
 * *diag as "file:line:col: message".
 */
struct ruleset *ruleset_load(const char *path, struct diag *diag);

/* The same from text in memory (fuzzers, tests); name stands for the file. */
struct ruleset *ruleset_load_buffer(const char *name, const char *buf, size_t len, struct diag *diag);

struct ruleset *ruleset_ref(struct ruleset *rs);
void ruleset_unref(struct ruleset *rs);

/*
 * Evaluate one stage. Returns 0 with *v filled, or -1 on an internal or
 * lookup error, which the caller must answer with a tempfail.
 */
int ruleset_eval(const struct ruleset *rs, enum stage stage,
                 const struct envelope *env, struct verdict *v);

/* Stages that have at least one rule (STAGE_BIT mask). */
unsigned ruleset_stages(const struct ruleset *rs);

/* Stages whose facts some rule or reply uses (STAGE_BIT of first_stage). */
unsigned ruleset_fact_stages(const struct ruleset *rs);

/* MTA macros the rules read at stage s ("{tls_version} {cipher}"), or NULL. */
const char *ruleset_macros(const struct ruleset *rs, enum stage s);

/* Which milter actions the rules may ask for. */
bool ruleset_edits_headers(const struct ruleset *rs);   /* add, change, delete */
bool ruleset_deletes_headers(const struct ruleset *rs); /* change or delete: needs the header names */
bool ruleset_quarantines(const struct ruleset *rs);

/* True when some rule needs DNS answers (reverse DNS, DNS lists). */
bool ruleset_uses_dns(const struct ruleset *rs);

/* Sender authentication: SPF facts or received-spf; DKIM facts or
   authentication-results (needs headers and body); authentication-results. */
bool ruleset_uses_spf(const struct ruleset *rs);
bool ruleset_uses_dkim(const struct ruleset *rs);
/* virus.* facts: a clamd scan of each message; its on-error (clamd { }). */
bool ruleset_uses_virus(const struct ruleset *rs);
bool ruleset_virus_tempfail(const struct ruleset *rs);
/* DMARC facts: they imply SPF and DKIM (ruleset_uses_spf and _dkim are true too). */
bool ruleset_uses_dmarc(const struct ruleset *rs);
bool ruleset_adds_authres(const struct ruleset *rs);

/* DKIM signing: some rule signs (needs headers and body), and the keys it signs with. */
struct dkim_signer;
bool ruleset_signs_dkim(const struct ruleset *rs);
const struct dkim_signer *ruleset_dkim_signer(const struct ruleset *rs);
/* A dkim-sign rule's selector ("dkim-sign \"sel\""), NULL for every key line. */
const char *rule_sign_selector(const struct rule *r);

/* True when a rule greylists or tests a rate limit: the daemon needs its state store. */
bool ruleset_uses_state(const struct ruleset *rs);
/* A content fact (attachment.*, archive.*, mime.*, body.text): the message is spooled and parsed at eom. */
bool ruleset_uses_mime(const struct ruleset *rs);

/* True when a rule tests authentication facts (needs {auth_authen}). */
bool ruleset_uses_auth(const struct ruleset *rs);

const char *ruleset_path(const struct ruleset *rs);
unsigned ruleset_rule_count(const struct ruleset *rs);
/* Test cases the rule file carries; all of them passed if it loaded. */
unsigned ruleset_test_count(const struct ruleset *rs);

/*
 * A driver's own data, one slot per rule set (the daemon's per-rule
 * counters): set once, before the rule set is shared (-1 when already
 * set); free_fn(p) runs when the rule set is freed.
 */
int ruleset_set_attachment(struct ruleset *rs, void *p, void (*free_fn)(void *));
void *ruleset_attachment(const struct ruleset *rs);

/* A rule's place in its rule set, 0..ruleset_rule_count()-1, and that rule set. */
unsigned rule_index(const struct rule *r);
const struct ruleset *rule_ruleset(const struct rule *r);
/* The rules of stage s in order: the first, then each one's next (NULL at the end). */
const struct rule *ruleset_first_rule(const struct ruleset *rs, enum stage s);
const struct rule *rule_next(const struct rule *r);

/* "file:line" of a rule, and its canonical text. */
const char *rule_where(const struct rule *r);
const char *rule_text(const struct rule *r);
/* "file:line[label]" ("file:line" without a label), as the logs name a rule. */
const char *rule_ref(const struct rule *r);
/* The rule's [label], or "" when it has none. */
const char *rule_label(const struct rule *r);
enum action rule_action(const struct rule *r);
/* An "accept unchecked": it ends the checks of every later recipient too. */
bool rule_unchecked(const struct rule *r);
enum stage rule_stage(const struct rule *r);

const char *action_name(enum action a);

/* "fact=value ..." for the facts r's condition tests (empty without one). */
void rule_explain(const struct rule *r, const struct envelope *env, char *out, size_t outsz);

/* Print the rule set back in canonical form (mxguard -n -v). */
void ruleset_print(const struct ruleset *rs, FILE *out);

#endif
