/*
 * clamd.h: a virus verdict from clamd over its INSTREAM protocol, for the
 * virus.found and virus.name facts.
 *
 * The protocol (clamd(8)): "zINSTREAM\0", then the stream as chunks, each
 * a 4-byte network-order length and that many bytes, a zero length to
 * end; clamd answers "stream: OK", "stream: NAME FOUND" or "... ERROR"
 * (also "INSTREAM size limit exceeded. ERROR" past its StreamMaxLength),
 * terminated by a NUL for a z-command.
 *
 * A message is streamed while the MTA passes it (headers, the blank line,
 * the body in the MTA's chunks, coalesced into CLAMD_CHUNK), never held
 * whole: the connection is opened at the message's first byte, and the
 * verdict read at its end. Every wait on clamd (connect, each write, the
 * verdict) is bounded by the configured timeout; a stream is bounded by
 * max_stream; the reply by CLAMD_REPLY_MAX. Any failure (no clamd, a
 * refused connection, a timeout, the size limit, a malformed reply) is
 * CLAMD_ERROR with its reason: never clean.
 */
#ifndef MXG_POLICY_CLAMD_H
#define MXG_POLICY_CLAMD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define CLAMD_DEFAULT_TIMEOUT_MS 30000
#define CLAMD_DEFAULT_MAX_STREAM (25UL * 1024 * 1024) /* clamd's StreamMaxLength default */
#define CLAMD_CHUNK 16384
#define CLAMD_REPLY_MAX 512
#define CLAMD_NAME_MAX 128  /* a virus name kept, with its NUL */

/* Where clamd listens and how long we wait: set once at start-up. */
struct clamd_config {
    char spec[256];                 /* as given: unix:/path or inet:PORT@HOST */
    struct sockaddr_storage addr;   /* resolved at start-up, before any chroot */
    socklen_t addrlen;
    int timeout_ms;
    size_t max_stream;              /* bytes; a longer message is an error */
    /* No clamd: the scanner of a rule file's test world (rules/selftest_world.c),
       in process, which knows one signature, the EICAR test string as it is. */
    bool eicar_only;
};

/* The test world's scanner's name for the EICAR test string. */
#define CLAMD_EICAR_NAME "Eicar-Test-Signature"

/*
 * Read SPEC (unix:/path, inet:PORT@HOST or inet6:PORT@HOST; HOST a name
 * resolved now or an address): 0, or -1 with a message in err.
 */
int clamd_config_parse(struct clamd_config *cfg, const char *spec, int timeout_ms, char *err, size_t errsz);

enum clamd_verdict {
    CLAMD_PENDING,  /* the message is still being streamed */
    CLAMD_CLEAN,
    CLAMD_FOUND,
    CLAMD_ERROR
};

/*
 * Parse one reply (len bytes, a trailing NUL or newline allowed). FOUND:
 * the virus name, sanitised (see clamd_sanitise), into name. ERROR: what
 * clamd said, sanitised, into name (for the log). CLEAN: name is "".
 */
enum clamd_verdict clamd_parse_reply(const char *reply, size_t len, char *name, size_t namesz);

/*
 * A name from clamd as it may appear in replies, logs and headers: letters,
 * digits and . - _ + kept (ClamAV's names,
 * Platform.Category.Name-ID-Rev, need no more), any other byte as '_', at most namesz - 1
 * bytes. Returns the length written.
 */
size_t clamd_sanitise(const char *in, size_t len, char *name, size_t namesz);

/* One connection's scans, a message at a time. */
struct clamd_scan;

/*
 * cfg NULL: no clamd was configured; every verdict is an error saying so.
 * tempfail: the rule set's on-error choice, kept for the facts to read.
 */
struct clamd_scan *clamd_scan_new(const struct clamd_config *cfg, bool tempfail);
void clamd_scan_free(struct clamd_scan *s);

/* A new message (or an abort): any stream under way is dropped. */
void clamd_scan_reset(struct clamd_scan *s);

/* Bytes of the message; the first opens the stream. A failure is kept
   (the verdict is then CLAMD_ERROR) and later bytes are ignored. */
void clamd_scan_write(struct clamd_scan *s, const void *buf, size_t len);

/* One header as received: "name:value" or, without its leading space, "name: value". */
void clamd_scan_header(struct clamd_scan *s, const char *name, const char *value, bool leadspace);

/* A piece of the body; the blank line after the headers is written before
   the first (or by clamd_scan_finish when there is no body). */
void clamd_scan_body(struct clamd_scan *s, const void *buf, size_t len);

/* End of message: end the stream and read the verdict (once; later calls return it). */
enum clamd_verdict clamd_scan_finish(struct clamd_scan *s);

/* The verdict so far, the virus name (FOUND) or the reason (ERROR), and on-error. */
enum clamd_verdict clamd_scan_verdict(const struct clamd_scan *s);
const char *clamd_scan_name(const struct clamd_scan *s);
bool clamd_scan_tempfail(const struct clamd_scan *s);
/* Bytes of the message streamed to clamd, and microseconds spent waiting on it. */
size_t clamd_scan_bytes(const struct clamd_scan *s);
long long clamd_scan_wait_us(const struct clamd_scan *s);

#endif
