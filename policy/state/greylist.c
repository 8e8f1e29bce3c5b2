/*
 * greylist.c: the greylisting decision on top of the state store.
 *
 * Entries (text values, times on the caller's clock):
 *   gt:NET|SENDER|RCPT  "F first"        waiting for its retry
 *                       "P first last"   passed; last is the latest pass
 *   gn:NET              counter          triplets of NET that passed
 *   ga:NET              "A until"        NET is allowed until then
 *
 * Must never pass a triplet because the store failed: a store error
 * before the decision is GREYLIST_ERROR for the rule to handle.
 */
#include "policy/state/greylist.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ADDR_MAX 1024 /* longer than any SMTP path (RFC 5321: 256) */
#define REFRESH 3600  /* a known triplet's pass is rewritten at most hourly */

void greylist_params_init(struct greylist_params *p)
{
    p->v4_prefix = 24;
    p->v6_prefix = 64;
    p->delay = 300;
    p->window = 86400;
    p->lifetime = 36 * 86400;
    p->autoallow_passes = 5;
    p->autoallow_lifetime = 7 * 86400;
}

const char *greylist_reason_text(enum greylist_reason r)
{
    static const char *const text[] = {
        [GREYLIST_NEW] = "first seen",           [GREYLIST_EARLY] = "too early",
        [GREYLIST_RETRIED] = "retried",          [GREYLIST_KNOWN] = "known",
        [GREYLIST_AUTOALLOWED] = "auto-allowed", [GREYLIST_STORE_ERROR] = "store error",
    };
    return (unsigned)r < sizeof text / sizeof text[0] ? text[r] : "?";
}

const char *greylist_verdict_name(enum greylist_verdict v)
{
    return v == GREYLIST_PASS ? "pass" : v == GREYLIST_TEMPFAIL ? "tempfail" : "error";
}

static void network_of(const struct ipaddr *ip, const struct greylist_params *p,
                       char out[IPADDR_TEXT_MAX + 4])
{
    unsigned prefix =
        ip->v4 ? (p->v4_prefix < 32 ? p->v4_prefix : 32) : (p->v6_prefix < 128 ? p->v6_prefix : 128);
    unsigned keep = ip->v4 ? 96 + prefix : prefix;
    struct ipaddr net = *ip;
    char text[IPADDR_TEXT_MAX];

    for (unsigned i = keep; i < 128; i++)
        net.b[i >> 3] &= (uint8_t) ~(0x80u >> (i & 7));
    ipaddr_format(&net, text);
    snprintf(out, IPADDR_TEXT_MAX + 4, "%s/%u", text, prefix);
}

/* Append "|ADDRESS" with its domain in lower case. -1 when too long. */
static int put_address(char *buf, size_t *len, const char *addr)
{
    size_t n = strlen(addr);
    const char *at = strrchr(addr, '@');

    if (n > ADDR_MAX)
        return -1;
    buf[(*len)++] = '|';
    for (size_t i = 0; i < n; i++)
        buf[*len + i] = (at != NULL && addr + i > at) ? (char)tolower((unsigned char)addr[i]) : addr[i];
    *len += n;
    return 0;
}

static enum greylist_verdict decide(struct greylist_outcome *out, enum greylist_verdict v,
                                    enum greylist_reason r, long left)
{
    out->verdict = v;
    out->reason = r;
    out->seconds_left = left;
    return v;
}

static enum greylist_verdict store_failed(struct greylist_outcome *out, const char *why)
{
    out->why = why;
    return decide(out, GREYLIST_ERROR, GREYLIST_STORE_ERROR, 0);
}

/* Write a text entry; STORE_FOUND on success. */
__attribute__((format(printf, 7, 8))) static enum store_result put_text(struct store *s, const char *key,
                                                                        size_t klen, time_t expires,
                                                                        time_t now, const char **why,
                                                                        const char *fmt, ...)
{
    char val[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    return store_set(s, key, klen, val, (size_t)n, expires, now, why);
}

/* Read a text entry into val (NUL-terminated). */
static enum store_result get_text(struct store *s, const char *key, size_t klen, char val[65], time_t now,
                                  const char **why)
{
    size_t n = 0;
    enum store_result r = store_get(s, key, klen, val, 64, &n, now, why);

    val[r == STORE_FOUND ? n : 0] = '\0';
    return r;
}

/* Is the client's network allowed? FOUND yes, NOTFOUND no. */
static enum store_result network_allowed(struct store *s, const char *net, time_t now, const char **why)
{
    char key[STORE_KEY_MAX + 1], val[65];
    size_t klen = store_key(key, "ga", net, strlen(net));
    long long until;
    enum store_result r = get_text(s, key, klen, val, now, why);

    if (r != STORE_FOUND)
        return r;
    return sscanf(val, "A %lld", &until) == 1 && until > (long long)now ? STORE_FOUND : STORE_NOTFOUND;
}

/* One more triplet of net passed: count it, and allow the network at the threshold. */
static void network_passed(struct store *s, const char *net, time_t now, const struct greylist_params *p)
{
    char key[STORE_KEY_MAX + 1];
    size_t klen = store_key(key, "gn", net, strlen(net));
    time_t until = now + (time_t)p->autoallow_lifetime;
    const char *why;
    int64_t n;

    if (p->autoallow_passes == 0 || store_incr(s, key, klen, 1, until, now, &n, &why) != STORE_FOUND ||
        n < (int64_t)p->autoallow_passes)
        return;
    klen = store_key(key, "ga", net, strlen(net));
    put_text(s, key, klen, until, now, &why, "A %lld", (long long)until);
}

static enum greylist_verdict first_seen(struct store *s, const char *key, size_t klen, time_t now,
                                        const struct greylist_params *p, struct greylist_outcome *out)
{
    const char *why;
    time_t expires = now + (time_t)p->delay + (time_t)p->window;

    if (put_text(s, key, klen, expires, now, &why, "F %lld", (long long)now) != STORE_FOUND)
        return store_failed(out, why);
    return decide(out, GREYLIST_TEMPFAIL, GREYLIST_NEW, (long)p->delay);
}

/* The triplet's entry says what happens; a stale or unreadable entry counts as none. */
static enum greylist_verdict judge(struct store *s, const char *key, size_t klen, const char *val, time_t now,
                                   const struct greylist_params *p, struct greylist_outcome *out)
{
    long long first, last;
    const char *why;

    if (sscanf(val, "P %lld %lld", &first, &last) == 2 && now - last < (long long)p->lifetime) {
        if (now - last >= REFRESH)
            put_text(s, key, klen, now + (time_t)p->lifetime, now, &why, "P %lld %lld", first,
                     (long long)now);
        return decide(out, GREYLIST_PASS, GREYLIST_KNOWN, 0);
    }
    if (sscanf(val, "F %lld", &first) != 1 || now - first >= (long long)p->delay + p->window)
        return first_seen(s, key, klen, now, p, out);
    if (now - first < (long long)p->delay)
        return decide(out, GREYLIST_TEMPFAIL, GREYLIST_EARLY, (long)(first + p->delay - now));
    if (put_text(s, key, klen, now + (time_t)p->lifetime, now, &why, "P %lld %lld", first, (long long)now) !=
        STORE_FOUND)
        return store_failed(out, why);
    network_passed(s, out->network, now, p);
    return decide(out, GREYLIST_PASS, GREYLIST_RETRIED, 0);
}

enum greylist_verdict greylist_check(struct store *s, time_t now, const struct greylist_triplet *t,
                                     const struct greylist_params *p, struct greylist_outcome *out)
{
    char text[IPADDR_TEXT_MAX + 4 + 2 * (ADDR_MAX + 1)];
    char key[STORE_KEY_MAX + 1], val[65];
    const char *why = NULL;
    size_t len, klen;
    enum store_result r;

    memset(out, 0, sizeof *out);
    network_of(&t->client, p, out->network);
    if (p->autoallow_passes > 0) {
        r = network_allowed(s, out->network, now, &why);
        if (r == STORE_ERROR)
            return store_failed(out, why);
        if (r == STORE_FOUND)
            return decide(out, GREYLIST_PASS, GREYLIST_AUTOALLOWED, 0);
    }
    len = strlen(out->network);
    memcpy(text, out->network, len);
    if (put_address(text, &len, t->sender) < 0 || put_address(text, &len, t->rcpt) < 0)
        return store_failed(out, "address too long for greylisting");
    klen = store_key(key, "gt", text, len);
    r = get_text(s, key, klen, val, now, &why);
    if (r == STORE_ERROR)
        return store_failed(out, why);
    if (r == STORE_NOTFOUND)
        return first_seen(s, key, klen, now, p, out);
    return judge(s, key, klen, val, now, p, out);
}
