/*
 * poison.h: the poison-message guard. A message that crashes the filter
 * every time it is filtered must not stop all mail: the supervisor charges
 * each crash to the messages the filter was working on when it died, and
 * the filter holds (451 4.3.0) a message charged with enough crashes.
 *
 * The memory is shared between the supervisor and its filter processes
 * (mapped before the first fork, it outlives each filter). Its two tables:
 * - slots, one per session (a session that finds none free is not
 *   tracked): the running digest of the message so far, its queue id, and
 *   whether a callback is working on it right now ("busy"). Written only by
 *   the session's own callbacks, so that a crash at any instruction leaves
 *   either the old digest or no valid digest, never a torn one;
 * - suspects: digest -> crashes charged, bounded (the least recently
 *   charged goes first), each forgotten POISON_TTL seconds after it was
 *   last charged or held. Written only by the supervisor, after the filter
 *   died and before the next one starts; a filter only reads them (and
 *   refreshes the time when it holds a message).
 */
#ifndef MXG_MILTER_POISON_H
#define MXG_MILTER_POISON_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define POISON_DIGEST_LEN 32  /* SHA-256 */
#define POISON_SLOTS 1024
#define POISON_SUSPECTS 256
#define POISON_TTL 3600
#define POISON_QID_MAX 32
#define POISON_HEX_LEN 16     /* the digest's first 16 hex digits in logs */

/*
 * Map the shared tables (before the first fork): nslots and nsuspects
 * bound them, crashes is the threshold (--poison-crashes). 0, or -1 with
 * *error_r: the guard is then off and every function below does nothing.
 */
int poison_init(unsigned nslots, unsigned nsuspects, unsigned crashes, const char **error_r);
void poison_shutdown(void);

/*
 * One session's message, as the filter sees it. Zero-initialised it is
 * "no message, no slot". A session's callbacks never run at once, so it
 * needs no lock.
 */
struct poison_msg {
    unsigned slot;                          /* 1-based index of its slot; 0: none (untracked) */
    bool started;                           /* an item folded: digest is the message's so far */
    bool held;                              /* refused as poison: the engine sees no more of it */
    unsigned char digest[POISON_DIGEST_LEN]; /* SHA-256 chained over each step */
};

/* MAIL FROM: a new message; whatever came before is not part of it. */
void poison_msg_begin(struct poison_msg *m);
/*
 * Fold one item of the message (tag: 'M' MAIL argument, 'R' RCPT argument,
 * 'H' header name, 'V' value). The first item after a message ended starts
 * its digest afresh (and claims a slot on first use): an MTA told to skip
 * MAIL and RCPT sends the headers only. Nothing folded, nothing tracked:
 * the empty digest would name every message.
 */
void poison_msg_fold(struct poison_msg *m, char tag, const char *data, size_t len);
/*
 * A callback starts working on the message: publish the digest and the
 * queue id (may be NULL) as busy. Returns the crashes charged to this
 * digest when it reached the threshold: the message is held (m->held, its
 * slot cleared, the time refreshed); 0 otherwise.
 */
unsigned poison_msg_enter(struct poison_msg *m, const char *qid, time_t now);
/* The callback returned: the message stays in its slot, not busy. */
void poison_msg_leave(struct poison_msg *m);
/* The message ended (end of message, abort): no valid digest, and not held, until its next item. */
void poison_msg_end(struct poison_msg *m);
/* The session closed: its slot is free again. */
void poison_msg_release(struct poison_msg *m);

/* The digest's first POISON_HEX_LEN hex digits into out (POISON_HEX_LEN + 1 bytes). */
void poison_hex(const unsigned char *digest, char *out);

/* Crashes charged to digest (live suspects only), 0 when unknown or off. */
unsigned poison_crashes(const unsigned char *digest, time_t now);

/*
 * Supervisor, after a filter process died of a signal or exited with a
 * status other than 0 and 78: every busy slot's digest is charged one
 * crash (once, however many slots hold it; each logged at err with its
 * queue id, digest and count), and every slot cleared. Returns the number
 * of digests charged: 0 means the guard cannot attribute the crash.
 */
unsigned poison_charge_crash(time_t now);
/* Supervisor, after a filter ended normally: every slot cleared, nothing charged. */
void poison_clear_slots(void);

#endif
