/*
 * summary_json.c: a decision record from its JSON line (mxguard
 * --records, mxguard(8)) for --summary, read with json-c.
 *
 * Must never take a value of the wrong type for the right one: a line
 * that is not one whole JSON object by the contract is not a record.
 */
#include "milter/summary_rec.h"

#include <json-c/json.h>
#include <string.h>

/* A string member (NULL member: empty when null_ok): 0, or -1. */
static int str(struct json_object *o, const char *key, bool null_ok, struct sstr *out)
{
    struct json_object *v;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL) {
        *out = (struct sstr){ "", 0 };
        return null_ok ? 0 : -1;
    }
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *out = (struct sstr){ json_object_get_string(v), (size_t)json_object_get_string_len(v) };
    return 0;
}

/* A count member, absent or null as 0. */
static int count(struct json_object *o, const char *key, unsigned long *out)
{
    struct json_object *v;
    int64_t n;

    *out = 0;
    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return 0;
    if (!json_object_is_type(v, json_type_int) || (n = json_object_get_int64(v)) < 0 || n > 999999999)
        return -1;
    *out = (unsigned long)n;
    return 0;
}

static int recipients(struct srec *r, struct json_object *o)
{
    struct json_object *list;
    size_t n;

    if (!json_object_object_get_ex(o, "recipients", &list) || list == NULL)
        return 0;
    if (!json_object_is_type(list, json_type_array) || (n = json_object_array_length(list)) > SREC_RCPTS_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct json_object *e = json_object_array_get_idx(list, i);
        struct srec_rcpt *rc = &r->rcpt[i];
        struct sstr action;
        if (e == NULL || !json_object_is_type(e, json_type_object) || str(e, "address", false, &rc->addr) < 0 ||
            str(e, "action", false, &action) < 0 || str(e, "rule", false, &rc->rule) < 0)
            return -1;
        rc->action = srec_outcome_of(action.p, action.len);
        if (rc->action < 0 || rc->action > OUT_DISCARD || rc->rule.len == 0)
            return -1;
    }
    r->nrcpt = (unsigned)n;
    return 0;
}

static int client(struct srec *r, struct json_object *o)
{
    struct json_object *c;

    if (!json_object_object_get_ex(o, "client", &c) || c == NULL || !json_object_is_type(c, json_type_object) ||
        str(c, "ip", true, &r->ip) < 0 || str(c, "name", true, &r->name) < 0)
        return -1;
    if (r->ip.len == 0)
        r->ip = (struct sstr){ "unknown", 7 }; /* the log line's ip=unknown */
    if (r->name.len == 0)
        r->name = (struct sstr){ "unknown", 7 }; /* as the log line's unknown[address] */
    return 0;
}

static int fill(struct srec *r, struct json_object *o, const char **error_r)
{
    struct sstr kind, outcome;

    *error_r = "a member missing or of the wrong type";
    if (!json_object_is_type(o, json_type_object) || str(o, "record", false, &kind) < 0 ||
        str(o, "time", false, &r->time) < 0 || client(r, o) < 0 || str(o, "from", true, &r->from) < 0 ||
        count(o, "rcpts", &r->rcpts) < 0 || count(o, "taken", &r->taken) < 0 ||
        str(o, "outcome", false, &outcome) < 0 || str(o, "stage", true, &r->stage) < 0 ||
        str(o, "rule", false, &r->rule) < 0)
        return -1;
    if (kind.len == 7 && memcmp(kind.p, "message", 7) == 0)
        r->message = true;
    else if (kind.len != 10 || memcmp(kind.p, "connection", 10) != 0)
        return -1;
    if (recipients(r, o) < 0) {
        *error_r = "recipients: not a list of {address, action, rule}";
        return -1;
    }
    r->outcome = srec_outcome_of(outcome.p, outcome.len);
    return srec_check(r, error_r);
}

int srec_from_json(struct srec *r, struct json_tokener *tok, const char *line, size_t len,
                   struct json_object **root, const char **error_r)
{
    memset(r, 0, sizeof *r);
    json_tokener_reset(tok);
    *root = json_tokener_parse_ex(tok, line, (int)len);
    if (*root == NULL || json_tokener_get_error(tok) != json_tokener_success ||
        json_tokener_get_parse_end(tok) != len) {
        *error_r = "not one JSON object";
        json_object_put(*root);
        *root = NULL;
        return -1;
    }
    return fill(r, *root, error_r);
}
