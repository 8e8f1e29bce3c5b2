/*
 * mime.c: the message's content facts: spool it, parse it once with
 * GMime, answer the rules' questions by index.
 *
 * Why GMime 3: it decodes RFC 2231 parameters (continuations, charsets)
 * and RFC 2047 encoded words, converts charsets through iconv, reports
 * malformed structure through a warning callback, and is the parser of
 * real mail clients (Evolution, notmuch). It is GLib-based: g_mime_init
 * runs once (mime_global_init, before threads); every parse has its own
 * parser, stream and options, so sessions share nothing. The parser reads
 * the spool through a stream and keeps part contents in it
 * (persist-stream), so a 50 MB message is not copied into memory.
 *
 * Must never crash or accept on a hostile message: past a limit the
 * parse stops and `limit` says which; a spool failure is an error the
 * caller tempfails.
 */
#include "policy/content/mime.h"

#include <gmime/gmime.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "policy/content/filetype.h"
#include "policy/content/mime_walk.h"

static pthread_once_t gmime_once = PTHREAD_ONCE_INIT;

static void gmime_start(void)
{
    g_mime_init();
}

void mime_global_init(void)
{
    pthread_once(&gmime_once, gmime_start);
    /* libmagic's database: the daemon loaded it before any chroot, so this
       is a no-op there; rule-file tests and the simulator load it here. A
       failure leaves attachment.detected_type absent. */
    (void)filetype_init();
}

void mime_init(struct mime_facts *m)
{
    memset(m, 0, sizeof *m);
    spool_init(&m->spool);
    m->limit = "";
    m->scan_line = true;
}

static void part_free(struct mime_part *p)
{
    free(p->name);
    for (unsigned i = 0; i < p->nmembers; i++)
        free(p->members[i]);
    free(p->members);
}

void mime_reset(struct mime_facts *m)
{
    size_t limit = m->spool.limit;

    for (unsigned i = 0; i < m->nparts; i++)
        part_free(&m->parts[i]);
    free(m->parts);
    free(m->text);
    spool_reset(&m->spool);
    mime_init(m);
    m->spool.limit = limit;
}

/*
 * Before GMime builds a tree: a message that cannot stay within the part
 * limit must not make the parser allocate (or recurse) for every one of a
 * million tiny parts. Every entity after the first begins at a boundary
 * line ("--...") or a Content-Type line: they are counted as the bytes
 * arrive, and with more than four times the limit the parse is not tried.
 */
static void prescan(struct mime_facts *m, const unsigned char *p, size_t len)
{
    static const char ct[] = "content-type:";

    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if (c == '\n') {
            m->scan_len = 0;
            m->scan_line = true;
            continue;
        }
        if (!m->scan_line)
            continue;
        c = (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        m->scan_len++;
        if (m->scan_len == 2 && c == '-' && m->scan_dash) {
            m->entities++;
            m->scan_line = false;
        } else if (c != ct[m->scan_len - 1]) {
            m->scan_dash = m->scan_len == 1 && c == '-';
            m->scan_line = m->scan_dash;
        } else if (m->scan_len == sizeof ct - 1) {
            m->entities++;
            m->scan_line = false;
        } else {
            m->scan_dash = false;
        }
    }
}

static int keep(struct mime_facts *m, const void *data, size_t len, const char **error_r)
{
    prescan(m, data, len);
    return spool_write(&m->spool, data, len, error_r);
}

int mime_add_header(struct mime_facts *m, const char *name, const char *value, bool leadspace,
                    const char **error_r)
{
    if (keep(m, name, strlen(name), error_r) < 0 ||
        keep(m, leadspace ? ":" : ": ", leadspace ? 1 : 2, error_r) < 0 ||
        keep(m, value, strlen(value), error_r) < 0)
        return -1;
    return keep(m, "\r\n", 2, error_r);
}

/* Once: at the end of the headers, or before the first body chunk (a
   driver may report the end of headers late). */
int mime_end_headers(struct mime_facts *m, const char **error_r)
{
    if (m->headers_done)
        return 0;
    m->headers_done = true;
    return keep(m, "\r\n", 2, error_r);
}

int mime_add_body(struct mime_facts *m, const void *data, size_t len, const char **error_r)
{
    if (mime_end_headers(m, error_r) < 0)
        return -1;
    return keep(m, data, len, error_r);
}

void mime_anomaly(struct mime_facts *m, const char *word)
{
    for (unsigned i = 0; i < m->nanomalies; i++)
        if (strcmp(m->anomalies[i], word) == 0)
            return;
    if (m->nanomalies < MIME_ANOMALY_MAX)
        m->anomalies[m->nanomalies++] = word;
}

/* The stream GMime reads: the memory copy, or the spool file within its bounds. */
static GMimeStream *spool_stream(const struct spool *s, const char **error_r)
{
    GMimeStream *st;
    int fd;

    if (s->fd < 0)
        return s->len > 0 ? g_mime_stream_mem_new_with_buffer((const char *)s->mem, s->len) : g_mime_stream_mem_new();
    if ((fd = dup(s->fd)) < 0) {
        *error_r = "no file descriptor for the spool";
        return NULL;
    }
    if ((st = g_mime_stream_fs_new_with_bounds(fd, 0, (gint64)s->len)) == NULL) {
        close(fd);
        *error_r = "the spool could not be read";
    }
    return st;
}

static int parse_stream(struct mime_facts *m, GMimeStream *st, bool over_size)
{
    m->parsed = true;
    if (over_size)
        m->limit = "size";
    else if (m->entities > 4u * MIME_PARTS_MAX)
        m->limit = "parts";
    if (m->limit[0] != '\0')
        return 0; /* past a limit before parsing: no tree, only the limit */
    return mime_walk_message(m, st);
}

int mime_parse(struct mime_facts *m, const char **error_r)
{
    GMimeStream *st;
    int rc;

    if (m->parsed)
        return 0;
    mime_global_init();
    if ((st = spool_stream(&m->spool, error_r)) == NULL)
        return -1;
    rc = parse_stream(m, st, m->spool.over);
    g_object_unref(st);
    if (rc < 0)
        *error_r = "out of memory parsing the message";
    return rc;
}

int mime_parse_buffer(struct mime_facts *m, const void *buf, size_t len, const char **error_r)
{
    GMimeStream *st;
    int rc;

    mime_global_init();
    prescan(m, buf, len);
    st = g_mime_stream_mem_new_with_buffer(buf, len);
    rc = parse_stream(m, st, len > m->spool.limit);
    g_object_unref(st);
    if (rc < 0)
        *error_r = "out of memory parsing the message";
    return rc;
}

/* Attachments: the leaf parts with a file name. */
const struct mime_part *mime_attachment(const struct mime_facts *m, unsigned i)
{
    for (unsigned k = 0; k < m->nparts; k++)
        if (m->parts[k].name != NULL && i-- == 0)
            return &m->parts[k];
    return NULL;
}

unsigned mime_attachment_count(const struct mime_facts *m)
{
    unsigned n = 0;

    for (unsigned k = 0; k < m->nparts; k++)
        n += m->parts[k].name != NULL;
    return n;
}

const char *mime_member(const struct mime_facts *m, unsigned i, const struct mime_part **part)
{
    for (unsigned k = 0; k < m->nparts; k++) {
        if (i < m->parts[k].nmembers) {
            if (part != NULL)
                *part = &m->parts[k];
            return m->parts[k].members[i];
        }
        i -= m->parts[k].nmembers;
    }
    return NULL;
}

int mime_member_add(void *arg, const char *name, size_t namelen, bool encrypted)
{
    struct mime_part *p = arg;
    char **grown, *copy;

    p->encrypted = p->encrypted || encrypted;
    if (p->nmembers >= MIME_MEMBERS_MAX)
        return 0;
    if ((copy = strndup(name, namelen)) == NULL ||
        (grown = realloc(p->members, (p->nmembers + 1) * sizeof *grown)) == NULL) {
        free(copy);
        return -1;
    }
    p->members = grown;
    p->members[p->nmembers++] = copy;
    return 0;
}

/* The type a common extension stands for, or NULL. */
static const char *ext_type(const char *ext)
{
    static const struct { const char *ext, *type; } map[] = {
        { "doc", "application/msword" }, { "exe", "application/x-dosexec" }, { "gif", "image/gif" },
        { "gz", "application/gzip" }, { "jpeg", "image/jpeg" }, { "jpg", "image/jpeg" },
        { "pdf", "application/pdf" }, { "png", "image/png" }, { "txt", "text/plain" },
        { "zip", "application/zip" },
    };

    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(ext, map[i].ext) == 0)
            return map[i].type;
    return NULL;
}

/* One program type under libmagic's two names: a bare MZ stub, and a PE file (libmagic 5.44). */
static const char *canonical_type(const char *t)
{
    return strcmp(t, "application/vnd.microsoft.portable-executable") == 0 ? "application/x-dosexec" : t;
}

bool mime_type_mismatch(const struct mime_part *p)
{
    const char *d = canonical_type(p->detected_type), *by_ext = ext_type(p->ext);

    /* What libmagic cannot tell apart says nothing. */
    if (d[0] == '\0' || strcmp(d, "application/octet-stream") == 0 || strcmp(d, FILETYPE_DOS_GUESS) == 0 ||
        strncmp(d, "text/", 5) == 0)
        return false;
    if (strcmp(p->type, "application/octet-stream") != 0 && strcmp(canonical_type(p->type), d) != 0)
        return true;
    return by_ext != NULL && strcmp(by_ext, d) != 0;
}
