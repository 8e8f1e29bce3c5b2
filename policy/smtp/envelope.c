/*
 * envelope.c: bounded copies of what the MTA reported.
 *
 * Must never keep a pointer into libmilter's buffers: they are reused as
 * soon as the callback returns.
 */
#include "policy/smtp/envelope.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void envelope_init(struct envelope *env)
{
    memset(env, 0, sizeof *env);
    env->declared_size = -1;
}

static void str_clear(struct envelope_str *str)
{
    free(str->s);
    memset(str, 0, sizeof *str);
}

static int str_set(struct envelope_str *str, const char *value, size_t cap)
{
    size_t len;

    str_clear(str);
    if (value == NULL)
        return 0;
    len = strnlen(value, cap + 1);
    if (len > cap) {
        len = cap;
        str->overlong = true;
    }
    if ((str->s = malloc(len + 1)) == NULL)
        return -1;
    memcpy(str->s, value, len);
    str->s[len] = '\0';
    str->len = len;
    return 0;
}

static void path_clear(struct envelope_path *p)
{
    str_clear(&p->raw);
    address_free(&p->addr);
    memset(p, 0, sizeof *p);
}

static int path_set(struct envelope_path *p, const char *value)
{
    path_clear(p);
    if (str_set(&p->raw, value, ADDRESS_INPUT_MAX) < 0)
        return -1;
    p->present = true;
    if (p->raw.overlong) {
        p->error = "address too long";
        return 0;
    }
    if (address_parse(p->raw.s ? p->raw.s : "", p->raw.len, &p->addr, &p->error) == 0) {
        p->ok = true;
    } else if (p->error != NULL && strcmp(p->error, "out of memory") == 0) {
        return -1;
    }
    return 0;
}

int envelope_set_client(struct envelope *env, const char *name, const struct ipaddr *ip)
{
    env->have_client_ip = ip != NULL;
    if (ip != NULL)
        env->client_ip = *ip;
    return str_set(&env->client_name, name, ENVELOPE_NAME_MAX);
}

int envelope_set_helo(struct envelope *env, const char *helo)
{
    int rc = str_set(&env->helo, helo, ENVELOPE_NAME_MAX);

    /* An over-long HELO is no valid name: classify nothing rather than a prefix. */
    if (env->helo.overlong)
        helo_classify(NULL, 0, &env->helo_info);
    else
        helo_classify(env->helo.s, env->helo.len, &env->helo_info);
    return rc;
}

int envelope_set_auth_user(struct envelope *env, const char *user)
{
    return str_set(&env->auth_user, user, ENVELOPE_NAME_MAX);
}

int envelope_set_sender(struct envelope *env, const char *path)
{
    return path_set(&env->sender, path);
}

int envelope_set_rcpt(struct envelope *env, const char *path)
{
    env->rcpt_pending = true;
    env->rcpt_seq++;
    return path_set(&env->rcpt, path);
}

void envelope_set_mail_params(struct envelope *env, char *const *params)
{
    env->declared_size = -1;
    for (; params != NULL && *params != NULL; params++) {
        char *end;
        long v;
        if (strncasecmp(*params, "SIZE=", 5) != 0)
            continue;
        v = strtol(*params + 5, &end, 10);
        if (end != *params + 5 && *end == '\0' && v >= 0)
            env->declared_size = v;
    }
}

void envelope_rcpt_done(struct envelope *env, bool accepted)
{
    if (env->rcpt_pending && accepted)
        env->rcpt_count++;
    env->rcpt_pending = false;
}

int envelope_set_header(struct envelope *env, const char *name, const char *value)
{
    env->header_count++;
    if (str_set(&env->header_name, name, ENVELOPE_HEADER_NAME_MAX) < 0)
        return -1;
    return str_set(&env->header_value, value, ENVELOPE_HEADER_VALUE_MAX);
}

const char *envelope_path_text(const struct envelope_path *p)
{
    if (!p->present || (p->ok && p->addr.is_null))
        return "";
    return p->ok ? p->addr.full : (p->raw.s ? p->raw.s : "");
}

void envelope_reset_message(struct envelope *env)
{
    env->msg_seq++;
    path_clear(&env->sender);
    path_clear(&env->rcpt);
    str_clear(&env->header_name);
    str_clear(&env->header_value);
    env->rcpt_count = 0;
    env->declared_size = -1;
    env->rcpt_pending = false;
    env->header_count = 0;
    env->msg_tags = 0;
}

void envelope_free(struct envelope *env)
{
    str_clear(&env->client_name);
    str_clear(&env->helo);
    str_clear(&env->auth_user);
    envelope_reset_message(env);
}
