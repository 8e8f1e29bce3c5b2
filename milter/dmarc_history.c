/*
 * dmarc_history.c: one message's DMARC aggregate-report record in
 * OpenDMARC's history-file format (what opendmarc-import reads), and the
 * --dmarc-history file the daemon appends them to.
 *
 * Must never let text from outside break a line or a field (it is
 * escaped), never write a partial record, and never hold up or fail a
 * message: a record that cannot be made or written is logged and lost.
 */
#include "milter/dmarc_history.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "milter/log.h"
#include "milter/records.h"
#include "milter/session.h"
#include "rules/record.h"

/* OpenDMARC's numbers (opendmarc-ar.h, dmarc.h) the importer stores as they are. */
enum {
    ARES_PASS = 0, ARES_SOFTFAIL = 2, ARES_NEUTRAL = 3, ARES_TEMPERROR = 4, ARES_PERMERROR = 5,
    ARES_NONE = 6, ARES_FAIL = 7, ARES_POLICY = 8, ARES_UNKNOWN = 11
};
enum { POLICY_PASS = 15, POLICY_REJECT = 16, POLICY_QUARANTINE = 17, POLICY_NONE = 18 };
enum { ALIGN_PASS = 4, ALIGN_FAIL = 5 };
enum { ARC_POLICY_UNUSED = 1 };

struct out {
    char *p;
    size_t len, cap;
    bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->full)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->full = true;
    else
        o->len += (size_t)n;
}

/* Text from outside as one field: printable ASCII but space and backslash as it is, the rest \xHH. */
static void put_field(struct out *o, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0' && !o->full; c++) {
        if (*c > 0x20 && *c < 0x7f && *c != '\\')
            put(o, "%c", *c);
        else
            put(o, "\\x%02x", *c);
    }
}

static void put_line(struct out *o, const char *key, const char *value)
{
    put(o, "%s ", key);
    put_field(o, value);
    put(o, "\n");
}

static int ares_code(enum auth_result r)
{
    switch (r) {
    case AUTH_PASS: return ARES_PASS;
    case AUTH_FAIL: return ARES_FAIL;
    case AUTH_SOFTFAIL: return ARES_SOFTFAIL;
    case AUTH_NEUTRAL: return ARES_NEUTRAL;
    case AUTH_POLICY: return ARES_POLICY;
    case AUTH_TEMPERROR: return ARES_TEMPERROR;
    case AUTH_PERMERROR: return ARES_PERMERROR;
    case AUTH_NONE: return ARES_NONE;
    }
    return ARES_UNKNOWN;
}

/* p= and sp= as libopendmarc stores them: the tag's letter ('n', 'q', 'r'), 0 when absent. */
static int tag_code(int disposition)
{
    switch (disposition) {
    case DMARC_DISP_NONE: return 'n';
    case DMARC_DISP_QUARANTINE: return 'q';
    case DMARC_DISP_REJECT: return 'r';
    }
    return 0;
}

static int policy_code(const struct dmarc_outcome *d)
{
    if (d->result == AUTH_PASS)
        return POLICY_PASS;
    switch (d->policy) {
    case DMARC_DISP_REJECT: return POLICY_REJECT;
    case DMARC_DISP_QUARANTINE: return POLICY_QUARANTINE;
    case DMARC_DISP_NONE: break;
    }
    return POLICY_NONE;
}

/* rua= as published: one line per URI (commas apart, blanks around dropped), "rua -" without. */
static void put_rua(struct out *o, const char *rua)
{
    char uri[sizeof ((struct dmarc_outcome *)0)->rua];
    bool any = false;

    for (const char *s = rua; *s != '\0';) {
        size_t n = strcspn(s, ",");
        const char *b = s, *e = s + n;
        while (b < e && (*b == ' ' || *b == '\t'))
            b++;
        while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > b && (size_t)(e - b) < sizeof uri) {
            memcpy(uri, b, (size_t)(e - b));
            uri[e - b] = '\0';
            put_line(o, "rua", uri);
            any = true;
        }
        s += n + (s[n] == ',');
    }
    if (!any)
        put(o, "rua -\n");
}

static void put_dkim(struct out *o, const struct dkim_outcome *k)
{
    unsigned n = k->nevaluated < DKIM_SIGS_MAX ? k->nevaluated : DKIM_SIGS_MAX;

    for (unsigned i = 0; i < n; i++) {
        const struct dkim_sig_outcome *g = &k->sig[i];
        if (g->domain[0] == '\0') /* no d= to report (OpenDMARC skips these too) */
            continue;
        put(o, "dkim ");
        put_field(o, g->domain);
        put(o, " ");
        put_field(o, g->selector[0] != '\0' ? g->selector : "-");
        put(o, " %d\n", ares_code(g->result));
    }
}

int dmarc_history_format(const struct dmarc_history_msg *m, char *buf, size_t bufsz,
                         const char **error_r)
{
    const struct dmarc_outcome *d = m->dmarc;
    struct out o = { buf, 0, bufsz, bufsz == 0 };
    char ip[IPADDR_TEXT_MAX];

    if (d == NULL || m->client == NULL || d->record_domain[0] == '\0' ||
        (d->result != AUTH_PASS && d->result != AUTH_FAIL))
        return 0;
    ipaddr_format(m->client, ip);
    put_line(&o, "job", m->job != NULL && m->job[0] != '\0' ? m->job : "-");
    put_line(&o, "reporter", m->reporter);
    put(&o, "received %lld\n", (long long)m->received);
    put_line(&o, "ipaddr", ip);
    put_line(&o, "from", d->from_domain);
    put_line(&o, "mfrom", m->mfrom_domain != NULL ? m->mfrom_domain : "");
    put(&o, "spf %d\n", m->spf != NULL ? ares_code(m->spf->result) : -1);
    if (m->dkim != NULL)
        put_dkim(&o, m->dkim);
    put_line(&o, "pdomain", d->record_domain);
    put(&o, "policy %d\n", policy_code(d));
    put_rua(&o, d->rua);
    put(&o, "pct %u\n", d->pct);
    put(&o, "adkim %d\naspf %d\n", (unsigned char)d->adkim, (unsigned char)d->aspf);
    put(&o, "p %d\nsp %d\n", tag_code(d->p), tag_code(d->sp));
    put(&o, "align_dkim %d\nalign_spf %d\n", d->dkim_aligned ? ALIGN_PASS : ALIGN_FAIL,
        d->spf_aligned ? ALIGN_PASS : ALIGN_FAIL);
    /* No ARC evaluation: what OpenDMARC writes without one (the columns may not be empty). */
    put(&o, "arc %d\narc_policy %d json:[]\n", ARES_UNKNOWN, ARC_POLICY_UNUSED);
    put(&o, "action %d\n", (int)m->action);
    if (o.full) {
        if (bufsz > 0)
            buf[0] = '\0';
        *error_r = "the record does not fit the buffer";
        return -1;
    }
    return (int)o.len;
}

static struct records_file *history;
static const char *history_reporter;

int dmarc_history_open(const char *path, const char *reporter)
{
    struct records_file *f = records_file_open(path, "dmarc-history");

    if (f == NULL)
        return -1;
    records_file_close(history);
    history = f;
    history_reporter = reporter;
    return 0;
}

void dmarc_history_close(void)
{
    records_file_close(history);
    history = NULL;
}

static enum dmarc_history_action history_action(const struct record *r)
{
    if (r->quarantined)
        return DMARC_HISTORY_QUARANTINE;
    switch (r->outcome.action) {
    case ACTION_REJECT: return DMARC_HISTORY_REJECT;
    case ACTION_TEMPFAIL:
    case ACTION_GREYLIST: return DMARC_HISTORY_TEMPFAIL;
    case ACTION_DISCARD: return DMARC_HISTORY_DISCARD;
    default: return DMARC_HISTORY_ACCEPT;
    }
}

void dmarc_history_note(const struct session *s, const struct record *r)
{
    const struct dmarc_outcome *dmarc = r->dmarc;
    static atomic_ulong unformatted;
    struct dmarc_history_msg m;
    char buf[DMARC_HISTORY_MAX];
    const char *why;
    int n;

    if (history == NULL || dmarc == NULL || r->kind != RECORD_MESSAGE || r->aborted)
        return;
    m = (struct dmarc_history_msg){
        .job = s->qid_raw[0] != '\0' ? s->qid_raw : s->id,
        .reporter = history_reporter,
        .received = r->ended.tv_sec,
        .client = r->env->have_client_ip ? &r->env->client_ip : NULL,
        .mfrom_domain = r->env->sender.present && r->env->sender.ok ? r->env->sender.addr.domain : "",
        .dmarc = dmarc,
        .dkim = r->dkim,
        .spf = r->spf_mfrom,
        .action = history_action(r),
    };
    if ((n = dmarc_history_format(&m, buf, sizeof buf, &why)) < 0) {
        if (atomic_fetch_add(&unformatted, 1) == 0) /* cannot happen at DMARC_HISTORY_MAX: said once */
            log_warnx("dmarc-history: session=%s: %s", s->id, why);
        return;
    }
    if (n > 0)
        records_file_append(history, buf, (size_t)n);
}
