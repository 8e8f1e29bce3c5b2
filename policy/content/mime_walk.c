/*
 * mime_walk.c: walk GMime's tree of a message: one record per entity,
 * the decoded size, name, extension and text of each leaf, anomalies,
 * and the limits on parts, depth and header bytes.
 *
 * Decoding streams through a fixed buffer: a part's contents are never
 * held in memory whole. Must never recurse deeper than MIME_DEPTH_MAX nor
 * record more than MIME_PARTS_MAX entities.
 */
#include "policy/content/mime_walk.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct walk {
    struct mime_facts *m;
    const char *boundaries[MIME_DEPTH_MAX + 2]; /* of the enclosing multiparts */
    unsigned nboundaries;
};

static void on_warning(gint64 offset, GMimeParserWarning code, const gchar *item, gpointer data)
{
    struct mime_facts *m = data;
    const char *w = NULL;

    (void)offset;
    (void)item;
    switch (code) {
    case GMIME_CRIT_MULTIPART_WITHOUT_BOUNDARY: w = "missing-boundary"; break;
    case GMIME_WARN_MALFORMED_MULTIPART: w = "broken-boundary"; break;
    case GMIME_WARN_TRUNCATED_MESSAGE: w = "truncated"; break;
    case GMIME_WARN_MALFORMED_MESSAGE: w = "malformed-message"; break;
    case GMIME_CRIT_NESTING_OVERFLOW:
        if (m->limit[0] == '\0')
            m->limit = "depth";
        return;
    case GMIME_WARN_DUPLICATED_HEADER: w = "duplicate-header"; break;
    case GMIME_CRIT_CONFLICTING_HEADER: w = "conflicting-header"; break;
    case GMIME_WARN_DUPLICATED_PARAMETER:
    case GMIME_CRIT_CONFLICTING_PARAMETER: w = "duplicate-parameter"; break;
    case GMIME_WARN_INVALID_CONTENT_TYPE: w = "bad-content-type"; break;
    case GMIME_WARN_INVALID_RFC2047_HEADER_VALUE: w = "bad-encoded-word"; break;
    case GMIME_WARN_UNENCODED_8BIT_HEADER: w = "8bit-header"; break;
    case GMIME_CRIT_INVALID_HEADER_NAME: w = "bad-header"; break;
    case GMIME_WARN_INVALID_PARAMETER: w = "bad-parameter"; break;
    case GMIME_WARN_PART_WITHOUT_CONTENT: w = "part-without-content"; break;
    case GMIME_CRIT_PART_WITHOUT_HEADERS_OR_CONTENT: w = "empty-part"; break;
    default: return;
    }
    mime_anomaly(m, w);
}

static void set_limit(struct mime_facts *m, const char *what)
{
    if (m->limit[0] == '\0')
        m->limit = what;
}

/* Header bytes of one entity (names and raw values). */
static size_t header_bytes(GMimeObject *obj)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(obj);
    size_t n = 0;
    int count = hl != NULL ? g_mime_header_list_get_count(hl) : 0;

    for (int i = 0; i < count; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *name = g_mime_header_get_name(h), *raw = g_mime_header_get_raw_value(h);
        n += (name ? strlen(name) : 0) + (raw ? strlen(raw) : 0) + 2;
    }
    return n;
}

static struct mime_part *new_part(struct mime_facts *m, GMimeObject *obj, unsigned depth)
{
    struct mime_part *p;
    GMimeContentType *ct = g_mime_object_get_content_type(obj);
    char *type = ct != NULL ? g_mime_content_type_get_mime_type(ct) : NULL;

    if (m->nparts == m->capparts) {
        unsigned cap = m->capparts ? m->capparts * 2 : 8;
        struct mime_part *grown = realloc(m->parts, cap * sizeof *grown);
        if (grown == NULL) {
            g_free(type);
            return NULL;
        }
        m->parts = grown;
        m->capparts = cap;
    }
    p = &m->parts[m->nparts++];
    memset(p, 0, sizeof *p);
    p->depth = depth;
    snprintf(p->type, sizeof p->type, "%s", type != NULL ? type : "text/plain");
    for (char *c = p->type; *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    g_free(type);
    if (depth > m->depth)
        m->depth = depth;
    return p;
}

static bool known_encoding(const char *v)
{
    static const char *const ok[] = { "7bit", "8bit", "binary", "base64", "quoted-printable",
                                      "x-uuencode", "uuencode", "x-uue" };
    size_t n = strcspn(v, " \t\r\n;(");

    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (n == strlen(ok[i]) && strncasecmp(v, ok[i], n) == 0)
            return true;
    return false;
}

/* RFC 2045: multiparts are 7bit, 8bit or binary; any part: a known word. */
static void check_encoding(struct mime_facts *m, GMimeObject *obj, bool container)
{
    const char *cte = g_mime_object_get_header(obj, "Content-Transfer-Encoding");

    if (cte == NULL)
        return;
    cte += strspn(cte, " \t");
    if (!known_encoding(cte) || (container && (strncasecmp(cte, "base64", 6) == 0 ||
                                               strncasecmp(cte, "quoted-printable", 16) == 0)))
        mime_anomaly(m, "bad-encoding");
}

static bool blank(const char *s)
{
    for (; s != NULL && *s != '\0'; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

static void walk_object(struct walk *w, GMimeObject *obj, unsigned depth);

static void walk_multipart(struct walk *w, GMimeMultipart *mp, unsigned depth)
{
    /* The parameter as sent: g_mime_multipart_get_boundary would make one
       up (glib's random source, /dev/urandom, absent in a chroot). */
    const char *b = g_mime_object_get_content_type_parameter(GMIME_OBJECT(mp), "boundary");
    int count = g_mime_multipart_get_count(mp);

    if (b == NULL || b[0] == '\0') {
        mime_anomaly(w->m, "missing-boundary");
    } else {
        /* A boundary equal to, or starting with, an enclosing one ends that
           part early for some readers and not for others. */
        for (unsigned i = 0; i < w->nboundaries; i++)
            if (strncmp(b, w->boundaries[i], strlen(w->boundaries[i])) == 0 ||
                strncmp(w->boundaries[i], b, strlen(b)) == 0)
                mime_anomaly(w->m, "duplicate-boundary");
    }
    if (count == 0 && b != NULL)
        mime_anomaly(w->m, "broken-boundary"); /* no delimiter line matched it */
    if (!blank(g_mime_multipart_get_epilogue(mp)))
        mime_anomaly(w->m, "parts-after-end");
    w->boundaries[w->nboundaries++] = b != NULL ? b : "";
    for (int i = 0; i < count && w->m->limit[0] == '\0'; i++)
        walk_object(w, g_mime_multipart_get_part(mp, i), depth + 1);
    w->nboundaries--;
}

static void walk_object(struct walk *w, GMimeObject *obj, unsigned depth)
{
    struct mime_facts *m = w->m;

    if (obj == NULL || m->limit[0] != '\0')
        return;
    if (depth > MIME_DEPTH_MAX) {
        set_limit(m, "depth");
        return;
    }
    if (m->nparts >= MIME_PARTS_MAX) {
        set_limit(m, "parts");
        return;
    }
    if (header_bytes(obj) > MIME_HEADER_MAX) {
        set_limit(m, "header");
        return;
    }
    if (new_part(m, obj, depth) == NULL) {
        set_limit(m, "parts"); /* out of memory: the parse stops, and says so */
        return;
    }
    if (GMIME_IS_MULTIPART(obj)) {
        check_encoding(m, obj, true);
        walk_multipart(w, GMIME_MULTIPART(obj), depth);
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        GMimeMessage *msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        check_encoding(m, obj, true);
        if (msg != NULL)
            walk_object(w, g_mime_message_get_mime_part(msg), depth + 1);
    } else if (GMIME_IS_PART(obj)) {
        check_encoding(m, obj, false);
        mime_walk_leaf(m, m->nparts - 1, GMIME_PART(obj));
    }
}

int mime_walk_message(struct mime_facts *m, GMimeStream *st)
{
    GMimeParser *parser = g_mime_parser_new_with_stream(st);
    GMimeParserOptions *opts = g_mime_parser_options_new();
    GMimeMessage *msg;
    struct walk w = { .m = m };

    g_mime_parser_set_persist_stream(parser, TRUE);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    g_mime_parser_options_set_warning_callback(opts, on_warning, m);
    msg = g_mime_parser_construct_message(parser, opts);
    if (msg == NULL)
        mime_anomaly(m, "malformed-message");
    else if (m->limit[0] == '\0')
        walk_object(&w, g_mime_message_get_mime_part(msg), 0);
    if (msg != NULL)
        g_object_unref(msg);
    g_object_unref(parser);
    g_mime_parser_options_free(opts);
    return 0;
}
