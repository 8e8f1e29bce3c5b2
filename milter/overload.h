/*
 * overload.h: the bounds that keep mxguard's threads, memory and
 * descriptors finite whatever the MTA sends: concurrent milter sessions
 * (--max-sessions; libmilter starts a thread for every connection and has
 * no maximum of its own) and the descriptor limit they need.
 *
 * A session past the bound is answered 421 4.3.2 at once, at connect, and
 * costs nothing more than its libmilter thread until the MTA hangs up.
 * The bound on sessions waiting for DNS (--max-dns-waiting) lives in the
 * resolver (policy/dns/dns.h); this module only reports on it.
 */
#ifndef MXG_MILTER_OVERLOAD_H
#define MXG_MILTER_OVERLOAD_H

#include <stdbool.h>

#include <libmilter/mfapi.h>

#include "policy/dns/dns.h"

/* Descriptors a filter process holds besides its sessions' MTA sockets:
   stdio, the listener, the supervisor's pipes, logs and records, the
   store, the metrics endpoint and libunbound (16 UDP ports, 2 TCP, its
   pipes and epoll: measured 25 in all). */
#define OVERLOAD_FD_FIXED 128

/* 0 for either: no bound. */
void overload_init(unsigned max_sessions, unsigned max_dns_waiting);
/* For the DNS counts in the overload log line; NULL: none. */
void overload_set_resolver(struct dns_resolver *r);

/* A place among --max-sessions: true when taken (give it back with
   overload_leave), false when the bound is reached. */
bool overload_enter(void);
void overload_leave(void);
unsigned overload_sessions(void);
/*
 * At a stop, libmilter's listener returns without waiting for the sessions
 * it started, and libmilter 8.17 ends each at its next command (without
 * the close callback). What can still finish is a message step already in
 * its callback (an end of message waiting for DNS): callbacks bracket such
 * steps with overload_step_begin/end, and overload_drain waits up to
 * seconds for none to be left. Returns how many were left.
 */
void overload_step_begin(void);
void overload_step_end(void);
unsigned overload_steps(void);
unsigned overload_drain(unsigned seconds);

/* A session that got no place: 421 4.3.2 at once. */
sfsistat overload_refuse(SMFICTX *ctx, bool first);

/* A DNS question not asked at --max-dns-waiting (logged like refusals). */
void overload_note_dns_busy(void);

/*
 * Before the filter starts (as root, before privileges are dropped): raise
 * RLIMIT_NOFILE to what *max_sessions needs (a descriptor for each, one for
 * each refused connection in flight, as many as sessions in a burst, and
 * OVERLOAD_FD_FIXED more), the
 * soft limit up to the hard one and, as root, the hard one too. When even
 * that is too low, *max_sessions is lowered to fit and a warning with the
 * numbers is logged. Returns the soft limit now in force.
 */
unsigned long overload_fit_nofile(unsigned *max_sessions);

#endif
