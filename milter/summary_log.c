/*
 * summary_log.c: a decision record from its log line (record=... as
 * mxguard(8) gives it) for --summary, through the strict line parser
 * (kvparse.c).
 *
 * Must never take a field twice, nor a recipient's field for another's:
 * a line with a repeated key or a recipient number out of range is not
 * a record.
 */
#include "milter/summary_rec.h"

#include <stdlib.h>
#include <string.h>

static struct sstr sv(const struct kv_field *f)
{
    return (struct sstr){ f->value, f->len };
}

static bool is(const struct kv_field *f, const char *word)
{
    return f->len == strlen(word) && memcmp(f->value, word, f->len) == 0;
}

static int number(const struct kv_field *f, unsigned long *out)
{
    char *end;

    if (f->len == 0 || f->len > 9 || f->value[0] < '0' || f->value[0] > '9')
        return -1;
    *out = strtoul(f->value, &end, 10);
    return end == f->value + f->len ? 0 : -1;
}

/* client=name[address]: the name ("unknown" without one). */
static int client_name(const struct kv_field *f, struct sstr *name)
{
    const char *open = NULL;

    for (size_t i = 0; i < f->len; i++)
        if (f->value[i] == '[')
            open = f->value + i;
    if (open == NULL || open == f->value || f->value[f->len - 1] != ']')
        return -1;
    *name = (struct sstr){ f->value, (size_t)(open - f->value) };
    return 0;
}

/* rcpt.N, rcpt.N.action, rcpt.N.rule (other rcpt.N.* ignored): 1 taken, 0 not ours, -1 broken. */
static int rcpt_field(struct srec *r, const struct kv_field *f)
{
    char *end;
    unsigned long i;
    struct srec_rcpt *rc;

    if (strncmp(f->key, "rcpt.", 5) != 0 || f->key[5] < '0' || f->key[5] > '9')
        return 0; /* not a recipient's (rcpt.more) */
    i = strtoul(f->key + 5, &end, 10);
    if (f->key[5] == '0' || i > SREC_RCPTS_MAX || (*end != '\0' && *end != '.'))
        return -1;
    rc = &r->rcpt[i - 1];
    if (*end == '\0') {
        if (rc->addr.p != NULL)
            return -1;
        rc->addr = sv(f);
    } else if (strcmp(end, ".action") == 0) {
        if (rc->action != -1 || (rc->action = srec_outcome_of(f->value, f->len)) < 0 || rc->action > OUT_DISCARD)
            return -1;
    } else if (strcmp(end, ".rule") == 0) {
        if (rc->rule.p != NULL)
            return -1;
        rc->rule = sv(f);
    } else {
        return 1;
    }
    if (i > r->nrcpt)
        r->nrcpt = (unsigned)i;
    return 1;
}

/* The fields --summary reads; each at most once. */
enum key { K_RECORD, K_TIME, K_CLIENT, K_IP, K_FROM, K_RCPTS, K_TAKEN, K_OUTCOME, K_STAGE, K_RULE, K_CUT, K_COUNT };
static const char *const keys[K_COUNT] = { "record", "time", "client", "ip", "from",  "rcpts",
                                           "taken",  "outcome", "stage", "rule", "cut" };

static int take_fields(struct srec *r, const struct kv_line *kv, const struct kv_field *f[K_COUNT])
{
    for (size_t i = 0; i < kv->n; i++) {
        int k, rc = rcpt_field(r, &kv->field[i]);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        for (k = 0; k < K_COUNT && strcmp(kv->field[i].key, keys[k]) != 0; k++)
            ;
        if (k < K_COUNT && f[k] != NULL)
            return -1;
        if (k < K_COUNT)
            f[k] = &kv->field[i];
    }
    return 0;
}

/*
 * Every itemised recipient has its address, action and rule; in a line
 * that says fields were left out (cut=N), a recipient that lost one is
 * left out of the counts, not guessed at.
 */
static int recipients_whole(struct srec *r, bool cut)
{
    unsigned n = 0;

    for (unsigned i = 0; i < r->nrcpt; i++) {
        bool whole = r->rcpt[i].addr.p != NULL && r->rcpt[i].action >= 0 && r->rcpt[i].rule.p != NULL;
        if (!whole && !cut)
            return -1;
        if (whole)
            r->rcpt[n++] = r->rcpt[i];
    }
    r->nrcpt = n;
    return 0;
}

static int fill(struct srec *r, const struct kv_field *f[K_COUNT], const char **error_r)
{
    unsigned long cut;

    *error_r = "a field missing or malformed";
    if (f[K_RECORD] == NULL || f[K_TIME] == NULL || f[K_CLIENT] == NULL || f[K_IP] == NULL ||
        f[K_OUTCOME] == NULL || f[K_RULE] == NULL)
        return -1;
    if (is(f[K_RECORD], "message"))
        r->message = true;
    else if (!is(f[K_RECORD], "connection"))
        return -1;
    if (client_name(f[K_CLIENT], &r->name) < 0 || (r->message && f[K_FROM] == NULL))
        return -1;
    if ((f[K_RCPTS] != NULL && number(f[K_RCPTS], &r->rcpts) < 0) ||
        (f[K_TAKEN] != NULL && number(f[K_TAKEN], &r->taken) < 0) ||
        (f[K_CUT] != NULL && number(f[K_CUT], &cut) < 0))
        return -1;
    r->time = sv(f[K_TIME]);
    r->ip = sv(f[K_IP]);
    if (f[K_FROM] != NULL)
        r->from = sv(f[K_FROM]);
    r->outcome = srec_outcome_of(f[K_OUTCOME]->value, f[K_OUTCOME]->len);
    if (f[K_STAGE] != NULL)
        r->stage = sv(f[K_STAGE]);
    r->rule = sv(f[K_RULE]);
    if (recipients_whole(r, f[K_CUT] != NULL) < 0) {
        *error_r = "a recipient without its address, action or rule";
        return -1;
    }
    return srec_check(r, error_r);
}

int srec_from_log(struct srec *r, struct kv_line *kv, const char *rec, size_t len, const char **error_r)
{
    const struct kv_field *f[K_COUNT] = { 0 };

    memset(r, 0, sizeof *r);
    for (unsigned i = 0; i < SREC_RCPTS_MAX; i++)
        r->rcpt[i].action = -1;
    if (kv_parse(kv, rec, len, error_r, NULL) < 0)
        return -1;
    if (kv->text != NULL) {
        *error_r = "a record with text after its fields";
        return -1;
    }
    if (take_fields(r, kv, f) < 0) {
        *error_r = "a field repeated, or a recipient number out of range";
        return -1;
    }
    return fill(r, f, error_r);
}
