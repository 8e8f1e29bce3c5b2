/*
 * ast.h: the compiled shape of a rule set, shared by the parser, the
 * compiler and the evaluator. Nothing outside rules/ includes it.
 */
#ifndef MXG_RULES_AST_H
#define MXG_RULES_AST_H

#include <stdatomic.h>
#include <stdbool.h>

#include "policy/state/statecheck.h"
#include "rules/cidr_set.h"
#include "rules/diag.h"
#include "rules/facts.h"
#include "rules/ruleset.h"
#include "rules/regex.h"
#include "rules/strset.h"

enum list_kind { LIST_NETWORKS, LIST_DOMAINS, LIST_ADDRESSES, LIST_REGEXES, LIST_DNS, LIST_RATELIMIT, LIST_WORDS };

struct list {
    char *name;
    enum list_kind kind;
    struct rules_loc loc;
    struct cidr_set *nets;  /* LIST_NETWORKS */
    struct strset *strs;    /* LIST_DOMAINS, LIST_ADDRESSES, LIST_WORDS (lower case) */
    struct regex **res;     /* LIST_REGEXES: any may match */
    size_t nres, capres;
    /* LIST_DNS: a DNS block or allow list; nets holds the return codes that count */
    char *zone;
    unsigned long bitmask;  /* listed when a code's last octet has one of these bits */
    int weight;
    bool tempfail;          /* on-error tempfail: a lookup failure refuses for now */
    char *key;              /* the fact it looks up for dnsbl.score (default client.address);
                               LIST_RATELIMIT: the fact it counts by */
    const struct fact_def *key_fact;
    /* LIST_RATELIMIT: "limit" hits per "window" seconds of "count" units; tempfail: on-error */
    unsigned window;
    unsigned long limit;
    enum ratelimit_unit unit;
    unsigned index;         /* among the rule set's rate limits: what a session counted */
    struct list *next;
};

enum cond_op {
    COND_AND,
    COND_OR,
    COND_NOT,
    COND_BOOL,   /* a boolean fact */
    COND_IN,     /* fact in <list> (exact; networks: containment) */
    COND_UNDER,  /* domain fact equal to or below an entry of <list> */
    COND_EQ,
    COND_NE,
    COND_TAGGED, /* tagged "name" */
    COND_OVER,   /* over <ratelimit> */
    COND_MATCH,  /* fact ~ "regex" */
    COND_NOMATCH,
    COND_LT,     /* numeric comparisons */
    COND_LE,
    COND_GT,
    COND_GE
};

struct cond {
    enum cond_op op;
    struct rules_loc loc;
    struct cond *left, *right;   /* AND, OR, NOT (left only) */
    const struct fact_def *fact;
    char *fact_name;             /* as written; "macro:{name}" for an MTA macro */
    const char *macro_name;      /* into fact_name, for macro conditions */
    struct list *list;
    char *list_name;             /* as written, until resolved */
    char *str;                   /* EQ, NE on strings */
    size_t len;
    bool numeric;                /* compare with num */
    long num;
    struct regex *re;            /* MATCH, NOMATCH */
    unsigned long long tag_bit;  /* TAGGED */
    unsigned dns_needs;          /* tests: RULE_DNS_* this one reads (dnslist.c) */
};

struct reply {
    char code[4];
    char xcode[12];
    char *text;                  /* template with %{fact} references */
    struct rules_loc loc;
};

struct rule {
    struct rules_loc loc;
    bool warn;                   /* log what it would do; never decides */
    bool unchecked;              /* "accept unchecked": ends every later check, recipients' too */
    bool off;                    /* "off": checked at load, never evaluated (a test may enable it) */
    bool enabled_by_test;        /* an "off" rule a running test switched on */
    char *label;                 /* [label], for tests and logs; NULL if none */
    enum stage stage;
    enum action action;
    bool has_reply;
    struct reply reply;          /* reply; or the value template of an effect */
    char *arg;                   /* effects: header name, or tag name */
    unsigned long long tag_bit;  /* ACTION_TAG */
    struct cond *cond;           /* NULL: always */
    char where[256];             /* "file:line" */
    char ref[320];               /* "file:line[label]" for logs */
    char *text;                  /* canonical form */
    unsigned dns_needs;          /* RULE_DNS_*: what its condition, reply or value reads from DNS */
    bool reply_needs_dns;        /* its reply or value template reads a DNS fact */
    struct rule *next;
    struct ruleset *rs;          /* the rule set it belongs to */
    unsigned index;              /* 0..nrules-1, in the order loaded */
};

/* A test case written in the rule file: "test NAME { steps }". */
enum test_step_kind {
    /* What the client and the MTA do, in order. */
    STEP_CLIENT, STEP_HELO, STEP_MAIL, STEP_RCPT, STEP_DATA, STEP_HEADER, STEP_EOH, STEP_BODY,
    STEP_MESSAGE, STEP_EOM, STEP_RSET,
    /* The world the test lives in: for the whole test, wherever written. */
    STEP_DNS, STEP_DNS_FAIL, STEP_MACRO, STEP_AUTHSERV_ID, STEP_ENABLE, STEP_STORE,
    /* The clock moves on, here. */
    STEP_LATER,
    /* What the last end of message did to the header. */
    STEP_ADDED, STEP_REMOVED
};

struct test_expect {
    bool present;
    enum action action;
    int code;                    /* 0: any */
    char *by;                    /* rule label, "default", or NULL: any rule */
    struct rules_loc loc;
};

#define TEST_STEP_VALUES_MAX 64  /* strings one step may carry (body lines, records) */

struct test_step {
    enum test_step_kind kind;
    struct rules_loc loc;
    char *value;                 /* address, HELO, path, header, macro name, ... */
    char *value2;                /* a header's value, a macro's value */
    char *client_name;           /* STEP_CLIENT options */
    char *auth_user;
    char **lines;                /* STEP_BODY lines, STEP_DNS records, STEP_MESSAGE's text */
    size_t nlines;
    long number;                 /* STEP_LATER seconds, STEP_REMOVED count (-1: any) */
    struct test_expect expect;
    struct test_step *next;
};

struct rule_test {
    char *name;
    struct rules_loc loc;
    bool passed;                 /* it ran, and met every expectation */
    struct test_step *steps;
    struct rule_test *next;
};

struct macro {
    char *name, *value;
    struct rules_loc loc;
    struct macro *next;
};

struct ruleset {
    atomic_uint refs;
    struct macro *macros;        /* define NAME "value"; */
    struct rule **tail[STAGE_COUNT]; /* where the next rule of a stage goes, while loading */
    struct rule_test *tests;
    unsigned ntests;
    char *path;
    char **files;                /* names every rules_loc.file points into */
    size_t nfiles;
    struct list *lists;
    struct rule *stages[STAGE_COUNT];
    unsigned nrules;
    unsigned stage_mask;
    unsigned fact_stage_mask;
    bool uses_auth;
    char *symlist[STAGE_COUNT];  /* MTA macros the rules read, by stage: "{a} {b}" */
    char *tags[64];              /* tag names; bit i stands for tags[i] */
    unsigned ntags;
    bool edits_headers, deletes_headers, quarantines;
    bool uses_spf, uses_dkim, uses_dmarc, adds_authres;
    bool signs_dkim;             /* a dkim-sign rule (not "off") */
    struct dkim_signer *signer;  /* dkim-keys: the key table's keys (policy/auth/dkim_sign.h) */
    struct rules_loc keys_loc;   /* where dkim-keys was declared */
    /* Greylisting and rate limits: the settings of the greylist { } block. */
    struct greylist_params greylist;
    bool greylist_tempfail;      /* on-error tempfail */
    bool greylist_seen;          /* a greylist { } block was read */
    bool uses_virus;             /* a rule reads virus.* (clamd is asked only then) */
    bool virus_tempfail;         /* clamd { on-error tempfail; } */
    bool clamd_seen;             /* a clamd { } block was read */
    unsigned nlimits;            /* rate limits declared */
    bool uses_state;             /* some rule greylists or tests a rate limit */
    bool uses_mime;              /* some rule tests a content fact: the message is spooled and parsed */
    unsigned dns_stages;         /* stages whose rules need DNS answers */
    unsigned rdns_stages;        /* ... reverse DNS among them */
    unsigned score_stages;       /* ... dnsbl.score/count/reason (every DNS list) */
    bool rdns_for_score;         /* a DNS list checks rdns.name */
    unsigned rdns_first_stages;  /* stages where reverse DNS must be known before the lists are asked */
    void *attachment;            /* a driver's (ruleset_set_attachment), freed with the rule set */
    void (*attachment_free)(void *);
};

/* parse_file.c: parse an included file into the same rule set. */
struct parser;
void rules_include(struct parser *p, const char *path, const struct rules_loc *loc);

/* lists.c */
int list_load_file(struct list *l, const char *path, struct diag *diag, const char **error_r);
int list_add_entry(struct list *l, const char *entry, const struct rules_loc *loc, struct diag *diag);
struct list *list_new(const char *name, enum list_kind kind, const struct rules_loc *loc);
void list_free(struct list *l);

void cond_free(struct cond *c);
void rule_free(struct rule *r);

/* dnslist.c */
int dnslist_test(const struct list *l, const struct envelope *env, enum fact_type type,
                 const struct fact_value *v, bool *out);

/* What a test, a rule or the rest of a stage reads from DNS. */
#define RULE_DNS_LIST 1u        /* a DNS list test */
#define RULE_DNS_RDNS 2u        /* reverse DNS (rdns.* facts) */
#define RULE_DNS_SCORE 4u       /* dnsbl.score/count/reason: every DNS list */
#define RULE_DNS_RDNS_FIRST 8u  /* reverse DNS before the lists (a list looks up rdns.name) */

/* At load: note what r's condition and templates read from DNS (r->dns_needs). */
void dnslist_note_rule(const struct ruleset *rs, struct rule *r);

/*
 * Ask at once every DNS question that the rules of from's stage, from
 * `from` on, may need (reverse DNS, the lists they test, every list for
 * dnsbl.score), and sum the lists up for dnsbl.*. The engine calls it
 * when evaluation first reaches a test or a reply that reads DNS, so the
 * rules before it (our own networks) never wait for DNS.
 */
void rules_ask_dns(const struct ruleset *rs, const struct rule *from, struct envelope *env);

/*
 * eval.c: ruleset_eval, asking DNS (rules_ask_dns, once) when the first
 * test or reply that reads it is reached. *asked: whether it did.
 */
int rules_eval_asking(const struct ruleset *rs, enum stage stage, struct envelope *env,
                      struct verdict *v, bool *asked);

void ruleset_free(struct ruleset *rs);
void test_free(struct rule_test *t);
void test_step_free(struct test_step *st);

/* reply.c */
int reply_check(const struct reply *r, enum action a, struct diag *diag);
/* A header value or quarantine reason: one line, valid %{fact} references. */
int reply_check_template(const struct reply *r, size_t max, struct diag *diag);
void reply_expand(const struct reply *r, const struct envelope *env, char *out, size_t outsz);
/* The same; %{fact} of the multi-valued fact vd matched is the value that matched. */
void reply_expand_matched(const struct reply *r, const struct envelope *env, const struct verdict *vd,
                          char *out, size_t outsz);
/* The %{fact} names a template uses, for compile-time checks; calls fn for each. */
void reply_each_ref(const char *text, void (*fn)(void *ctx, const char *name, size_t len), void *ctx);

#endif
