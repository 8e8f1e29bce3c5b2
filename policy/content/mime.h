/*
 * mime.h: what is inside a message: its MIME tree, attachments, anomalies,
 * the limits it ran into and its decoded text, for the rules' eom facts.
 *
 * Parsed with GMime 3 from the session's spool (policy/content/spool.h)
 * once, at the end of the message, and only for rule sets that test a
 * content fact. Nothing here knows about libmilter or the rules.
 */
#ifndef MXG_POLICY_MIME_H
#define MXG_POLICY_MIME_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/content/spool.h"

/* Limits: past any of them the parse stops and mime_facts.limit says which. */
#define MIME_PARTS_MAX 500          /* MIME entities, containers included */
#define MIME_DEPTH_MAX 30           /* multipart and message/rfc822 nesting */
#define MIME_HEADER_MAX (64 * 1024) /* header bytes of one part */
#define MIME_TEXT_MAX (1024 * 1024) /* decoded text kept for body.text */
#define MIME_ANOMALY_MAX 16
#define MIME_MEMBERS_MAX 1000       /* archive members kept per part */
#define MIME_HEAD_MAX 4096          /* decoded bytes kept per part for type detection */

struct mime_part {
    char type[128];          /* declared content type, lower case ("text/plain" by default) */
    char *name;              /* file name, RFC 2231 / 2047 decoded, UTF-8; NULL: none */
    char ext[32];            /* lower-cased last extension of name; "" when none */
    size_t size;             /* decoded bytes */
    unsigned depth;          /* 0 for the message itself */
    bool leaf;               /* not a multipart or message/rfc822 */
    /* From the decoded bytes (mime_leaf.c: libmagic, libarchive): */
    char detected_type[128]; /* "" until filled: attachment.detected_type absent */
    bool type_mismatch;
    bool encrypted;          /* an archive with an encrypted member */
    char **members;          /* archive member names, one level deep */
    unsigned nmembers;
};

struct mime_facts {
    struct spool spool;      /* the message as the MTA passed it */
    bool parsed;             /* mime_parse ran for this message */
    struct mime_part *parts; /* in document order */
    unsigned nparts, capparts;
    unsigned depth;          /* the deepest nesting seen */
    const char *anomalies[MIME_ANOMALY_MAX]; /* static words, each once */
    unsigned nanomalies;
    const char *limit;       /* "size", "parts", "depth", "header" or "" */
    char *text;              /* body.text: UTF-8, at most MIME_TEXT_MAX bytes */
    size_t text_len, text_cap;
    unsigned long entities;  /* boundary and Content-Type lines seen while spooling */
    unsigned scan_len;       /* bytes of the current line looked at */
    bool scan_line, scan_dash;
    bool headers_done;       /* the empty line after the headers is spooled */
};

/* Once, before any thread: GMime's type system and charset tables. */
void mime_global_init(void);

void mime_init(struct mime_facts *m);
/* Forget the message (spool and facts); the object stays usable. */
void mime_reset(struct mime_facts *m);

/* Headers and body as they reach the filter; -1 with *error_r on a spool failure. */
int mime_add_header(struct mime_facts *m, const char *name, const char *value, bool leadspace,
                    const char **error_r);
int mime_end_headers(struct mime_facts *m, const char **error_r);
int mime_add_body(struct mime_facts *m, const void *data, size_t len, const char **error_r);

/* Parse what was spooled (once a message): 0, or -1 with *error_r. */
int mime_parse(struct mime_facts *m, const char **error_r);
/* Parse a whole message from memory (tests, fuzzing): as above. */
int mime_parse_buffer(struct mime_facts *m, const void *buf, size_t len, const char **error_r);

/* Facts by index, for the multi-valued rule facts: NULL past the last. */
const struct mime_part *mime_attachment(const struct mime_facts *m, unsigned i);
unsigned mime_attachment_count(const struct mime_facts *m);
const char *mime_member(const struct mime_facts *m, unsigned i, const struct mime_part **part);

/* The member callback for archive_scan (policy/content/archive_scan.h): arg is a struct mime_part. */
int mime_member_add(void *arg, const char *name, size_t namelen, bool encrypted);

/* Lower-cased last extension of name into ext (""); "invoice.pdf.exe" gives "exe". */
void mime_name_ext(const char *name, char *ext, size_t extsz);

/* The detected type contradicts the declared type or the extension (for the content hook). */
bool mime_type_mismatch(const struct mime_part *p);

/* Record an anomaly word (static string), once. */
void mime_anomaly(struct mime_facts *m, const char *word);

/* mime_text.c: the state of the small HTML reducer across chunks of one part. */
struct mime_html {
    int state;            /* in text, a tag, an entity, a comment */
    char word[12];        /* a tag's name or an entity, as far as read */
    unsigned wordlen;
    bool skip;            /* inside <script> or <style>: no text */
    bool closing;         /* the tag is </...> */
};

/* Append decoded UTF-8 text, bounded by MIME_TEXT_MAX; with html non-NULL,
   tags go, entities are decoded and block tags become line ends. */
void mime_text_append(struct mime_facts *m, const char *buf, size_t len, struct mime_html *html);
/* Between two parts' text. */
void mime_text_separate(struct mime_facts *m);

#endif
