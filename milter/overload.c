/*
 * overload.c: the session bound (--max-sessions), the descriptor limit it
 * needs, and one log line for refusals at most every 10 seconds.
 *
 * The count goes up when a connection's first callback makes its private
 * state (milter/callbacks.c) and down in xxfi_close, which libmilter calls
 * for every connection it accepted, whatever ended it (engine.c: "close
 * must always be called"). Must never refuse with a 5xx or let a refused
 * session through unchecked, and never log a line per refusal: an attacker
 * who fills the bound must not fill the disk too.
 */
#include "milter/overload.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "milter/log.h"
#include "milter/metrics.h"
#include "policy/monotime.h"

#define LOG_EVERY_MS 10000

static unsigned max_sessions, max_dns_waiting;
static struct dns_resolver *resolver;
static atomic_uint sessions;
static atomic_uint steps; /* message steps in their callbacks (overload_step_begin) */
static atomic_ulong refused, refused_logged; /* sessions refused; as of the last line */
static atomic_ulong dns_busy_logged; /* the resolver's refusals as of the last line */
static atomic_llong last_log_ms = -1;
static atomic_bool dns_busy_seen;

void overload_init(unsigned max_s, unsigned max_dns)
{
    max_sessions = max_s;
    max_dns_waiting = max_dns;
    metrics_set_limits(max_s, max_dns); /* kept across the filter's metrics_init */
}

void overload_set_resolver(struct dns_resolver *r)
{
    resolver = r;
    if (r != NULL)
        dns_resolver_set_max_waiting(r, max_dns_waiting);
}

bool overload_enter(void)
{
    unsigned cur = atomic_load(&sessions);

    do {
        if (max_sessions > 0 && cur >= max_sessions)
            return false;
    } while (!atomic_compare_exchange_weak(&sessions, &cur, cur + 1));
    return true;
}

void overload_leave(void)
{
    atomic_fetch_sub(&sessions, 1);
}

unsigned overload_sessions(void)
{
    return atomic_load(&sessions);
}

void overload_step_begin(void)
{
    atomic_fetch_add(&steps, 1);
}

void overload_step_end(void)
{
    atomic_fetch_sub(&steps, 1);
}

unsigned overload_steps(void)
{
    return atomic_load(&steps);
}

unsigned overload_drain(unsigned seconds)
{
    unsigned left = atomic_load(&steps);

    for (unsigned tick = 0; left > 0 && tick < seconds * 10; tick++) {
        usleep(100 * 1000);
        left = atomic_load(&steps);
    }
    /* The last step's reply is written after its callback returns. */
    usleep(50 * 1000);
    return left;
}

/* The first refusal of each kind, then at most a line every LOG_EVERY_MS, with counts. */
static void log_maybe(bool first)
{
    long long now = monotime_ms(), last = atomic_load(&last_log_ms);
    unsigned long r, r0, d0;
    struct dns_stats st = { 0 };

    if (!first && last >= 0 && now - last < LOG_EVERY_MS)
        return;
    if (!atomic_compare_exchange_strong(&last_log_ms, &last, now) && !first)
        return; /* another thread logs this one */
    r = atomic_load(&refused);
    r0 = atomic_exchange(&refused_logged, r);
    if (resolver != NULL)
        dns_resolver_stats(resolver, &st);
    d0 = atomic_exchange(&dns_busy_logged, st.refused);
    log_warnx("overload: sessions=%u max-sessions=%u refused=%lu (+%lu) dns-waiting=%lu max-dns-waiting=%u "
              "dns-not-asked=%lu (+%lu): sessions past max-sessions get 421 4.3.2, DNS questions past "
              "max-dns-waiting read as lookup failures; next line in 10 s at the earliest",
              atomic_load(&sessions), max_sessions, r, r - r0, st.waiting, max_dns_waiting,
              st.refused, st.refused - d0);
}

sfsistat overload_refuse(SMFICTX *ctx, bool first)
{
    if (first) {
        log_maybe(atomic_fetch_add(&refused, 1) == 0);
        metrics_note_refused();
    }
    /* 421: the MTA closes the client's connection. Should libmilter
       refuse the reply (it cannot: the text is ours and valid), the
       tempfail stands with the MTA's own text; not logged, as above. */
    (void)smfi_setreply(ctx, "421", "4.3.2", "Too busy, try again later");
    return SMFIS_TEMPFAIL;
}

void overload_note_dns_busy(void)
{
    log_maybe(!atomic_exchange(&dns_busy_seen, true));
}

/* Descriptors n sessions need: theirs, as many refused ones in flight, the rest. */
static rlim_t fd_need(unsigned n)
{
    return 2 * (rlim_t)n + OVERLOAD_FD_FIXED;
}

static unsigned long fit(unsigned *max_s, unsigned long limit)
{
    unsigned long room = limit > OVERLOAD_FD_FIXED + 2 ? (limit - OVERLOAD_FD_FIXED) / 2 : 1;

    if (*max_s > room) {
        log_warnx("descriptors: the limit is %lu (hard), --max-sessions %u needs %lu; "
                  "serving at most %lu sessions at once", limit, *max_s, (unsigned long)fd_need(*max_s), room);
        *max_s = (unsigned)room;
    }
    return limit;
}

unsigned long overload_fit_nofile(unsigned *max_s)
{
    struct rlimit rl;
    rlim_t need = fd_need(*max_s), was;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warn("getrlimit(RLIMIT_NOFILE)");
        return 0;
    }
    if (*max_s == 0) /* no session bound: nothing to fit */
        return (unsigned long)rl.rlim_cur;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= need)
        return (unsigned long)rl.rlim_cur;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
        struct rlimit up = { need, need };
        if (geteuid() == 0 && setrlimit(RLIMIT_NOFILE, &up) == 0) {
            log_info("descriptors: limit raised from %lu (hard %lu) to %lu for --max-sessions %u",
                     (unsigned long)rl.rlim_cur, (unsigned long)rl.rlim_max, (unsigned long)need, *max_s);
            return (unsigned long)need;
        }
        need = rl.rlim_max; /* all we may have */
    }
    was = rl.rlim_cur;
    rl.rlim_cur = rl.rlim_cur > need ? rl.rlim_cur : need;
    if (rl.rlim_cur != was && setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warn("setrlimit(RLIMIT_NOFILE, %lu)", (unsigned long)rl.rlim_cur);
        getrlimit(RLIMIT_NOFILE, &rl);
    } else if (rl.rlim_cur != was) {
        log_info("descriptors: soft limit raised from %lu to %lu for --max-sessions %u", (unsigned long)was,
                 (unsigned long)rl.rlim_cur, *max_s);
    }
    return fit(max_s, (unsigned long)rl.rlim_cur);
}
