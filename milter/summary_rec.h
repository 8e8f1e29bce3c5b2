/*
 * summary_rec.h: one decision record as --summary needs it, read from a
 * log line (summary_log.c) or a JSON line (summary_json.c), so both forms
 * of the same record count the same. Internal to milter/summary*.c.
 *
 * Its strings point into what the line was parsed into: valid until the
 * next line is read. They carry their length (a value may hold NUL).
 */
#ifndef MXG_MILTER_SUMMARY_REC_H
#define MXG_MILTER_SUMMARY_REC_H

#include <stdbool.h>
#include <stddef.h>

#include "milter/kvparse.h"

#define SREC_RCPTS_MAX 50 /* recipients a record itemises (the contract's limit) */

struct sstr {
    const char *p;
    size_t len;
};

enum srec_outcome { OUT_ACCEPT, OUT_REJECT, OUT_TEMPFAIL, OUT_DISCARD, OUT_ABORTED, OUT_CLOSED, OUT_COUNT };

struct srec_rcpt {
    struct sstr addr;
    int action; /* OUT_ACCEPT to OUT_DISCARD; -1 until read */
    struct sstr rule;
};

struct srec {
    bool message;           /* record=message; else a connection without one */
    struct sstr time;       /* YYYY-MM-DDThh:mm:ss[.fff]Z, checked */
    struct sstr name, ip;   /* the client */
    struct sstr from;       /* messages only */
    unsigned long rcpts, taken;
    int outcome;            /* enum srec_outcome */
    struct sstr stage;      /* empty when absent */
    struct sstr rule;       /* the outcome's rule */
    struct srec_rcpt rcpt[SREC_RCPTS_MAX];
    unsigned nrcpt;
};

/* Word to enum srec_outcome, or -1. */
int srec_outcome_of(const char *p, size_t len);
extern const char *const srec_outcome_names[OUT_COUNT];

/* The checks both forms share: 0, or -1 with *error_r. */
int srec_check(const struct srec *r, const char **error_r);

/* Does REF name rule (the whole ref, its file:line, its [label], or a file:line ending in "/REF")? */
bool srec_rule_matches(struct sstr rule, const char *ref);

/* The sender's domain, lower-cased into buf: "<>" for the null sender, "(none)" without an '@'. */
struct sstr srec_sender_domain(struct sstr from, char *buf, size_t bufsz);

/* A log file's record line: the record= part after "mxguard[PID]: ", or NULL when line is no record. */
const char *srec_log_start(const char *line, size_t len);

/* The record in a log line (from srec_log_start) into r, its fields kept in kv: 0, or -1 with *error_r. */
int srec_from_log(struct srec *r, struct kv_line *kv, const char *rec, size_t len, const char **error_r);

/* The record in a JSON line into r, which points into *root (put it after use): 0, or -1 with *error_r. */
struct json_object;
struct json_tokener;
int srec_from_json(struct srec *r, struct json_tokener *tok, const char *line, size_t len,
                   struct json_object **root, const char **error_r);

#endif
