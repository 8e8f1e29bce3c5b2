/*
 * summary_rec.c: what --summary checks and derives alike for a record
 * read from a log line or from a JSON line (summary_rec.h).
 *
 * Must never accept a record that breaks the contract (mxguard(8),
 * decision records) as if it were whole: such a line is counted as not
 * parsed, never half-counted.
 */
#include "milter/summary_rec.h"

#include <string.h>

const char *const srec_outcome_names[OUT_COUNT] = { "accept", "reject", "tempfail", "discard", "aborted", "closed" };

int srec_outcome_of(const char *p, size_t len)
{
    for (int i = 0; i < OUT_COUNT; i++)
        if (strlen(srec_outcome_names[i]) == len && memcmp(srec_outcome_names[i], p, len) == 0)
            return i;
    return -1;
}

static bool digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static int two(const char *p)
{
    return (p[0] - '0') * 10 + (p[1] - '0');
}

/* YYYY-MM-DDThh:mm:ss, then optional .fraction, then Z: UTC, as the contract writes it. */
static bool utc_time(struct sstr t)
{
    const char *p = t.p;
    size_t i = 19;

    if (t.len < 20 || !digits(p, 4) || p[4] != '-' || !digits(p + 5, 2) || p[7] != '-' || !digits(p + 8, 2) ||
        p[10] != 'T' || !digits(p + 11, 2) || p[13] != ':' || !digits(p + 14, 2) || p[16] != ':' ||
        !digits(p + 17, 2))
        return false;
    if (two(p + 5) < 1 || two(p + 5) > 12 || two(p + 8) < 1 || two(p + 8) > 31 || two(p + 11) > 23 ||
        two(p + 14) > 59 || two(p + 17) > 60)
        return false;
    if (p[i] == '.') {
        size_t start = ++i;
        while (i < t.len && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == start)
            return false;
    }
    return i + 1 == t.len && p[i] == 'Z';
}

int srec_check(const struct srec *r, const char **error_r)
{
    if (!utc_time(r->time))
        *error_r = "time is not YYYY-MM-DDThh:mm:ss.mmmZ";
    else if (r->outcome < 0)
        *error_r = "no outcome, or an outcome the contract does not know";
    else if (r->message ? r->outcome == OUT_CLOSED : r->outcome == OUT_ACCEPT || r->outcome == OUT_ABORTED)
        *error_r = r->message ? "a message record with outcome closed" : "a connection record with a message's outcome";
    else if (r->ip.len == 0 || r->name.len == 0)
        *error_r = "no client";
    else if (r->rule.len == 0)
        *error_r = "no rule";
    else if (r->message && r->from.len == 0)
        *error_r = "a message record without from";
    else if (r->taken > r->rcpts || r->nrcpt > r->rcpts)
        *error_r = "more recipients taken or itemised than RCPT commands seen";
    else
        return 0;
    return -1;
}

bool srec_rule_matches(struct sstr rule, const char *ref)
{
    size_t n = strlen(ref);
    const char *open = memchr(rule.p, '[', rule.len);
    size_t where = open != NULL ? (size_t)(open - rule.p) : rule.len;

    if (n == 0)
        return false;
    if (n == rule.len && memcmp(rule.p, ref, n) == 0)
        return true;
    if (n == where && memcmp(rule.p, ref, n) == 0)
        return true; /* file:line */
    if (where > n && rule.p[where - n - 1] == '/' && memcmp(rule.p + where - n, ref, n) == 0)
        return true; /* the end of file:line, after a '/' */
    if (open != NULL && rule.p[rule.len - 1] == ']' && rule.len - where - 2 == n &&
        memcmp(open + 1, ref, n) == 0)
        return true; /* [label] */
    return false;
}

struct sstr srec_sender_domain(struct sstr from, char *buf, size_t bufsz)
{
    const char *p = from.p, *at;
    size_t n = from.len;

    if (n > 0 && p[0] == '<')
        p++, n--;
    if (n > 0 && p[n - 1] == '>')
        n--;
    if (n == 0)
        return (struct sstr){ "<>", 2 };
    for (at = p + n; at > p && at[-1] != '@'; at--)
        ;
    if (at == p || at == p + n)
        return (struct sstr){ "(none)", 6 };
    n -= (size_t)(at - p);
    if (n > bufsz)
        n = bufsz;
    for (size_t i = 0; i < n; i++)
        buf[i] = at[i] >= 'A' && at[i] <= 'Z' ? (char)(at[i] - 'A' + 'a') : at[i];
    return (struct sstr){ buf, n };
}

const char *srec_log_start(const char *line, size_t len)
{
    const char *end = line + len, *tag, *p;
    static const char rec[] = "record=";

    for (p = line; p + 3 <= end && memcmp(p, "]: ", 3) != 0; p++)
        ;
    if (p + 3 + sizeof rec - 1 > end || memcmp(p + 3, rec, sizeof rec - 1) != 0)
        return NULL;
    tag = p;
    while (tag > line && tag[-1] >= '0' && tag[-1] <= '9')
        tag--;
    if (tag == p || tag - line < 8 || memcmp(tag - 8, "mxguard[", 8) != 0)
        return NULL;
    if (tag - 8 > line && tag[-9] != ' ')
        return NULL;
    return p + 3;
}
