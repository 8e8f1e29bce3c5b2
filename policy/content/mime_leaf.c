/*
 * mime_leaf.c: one leaf part: its file name and extension, its decoded
 * size, its text for body.text, the type its bytes show (libmagic) and,
 * for an archive, its members' names (libarchive).
 *
 * The contents are decoded through GMime's filters a buffer at a time,
 * from the spool: never held whole in memory. Must never let a name
 * from the message reach a log or reply unescaped (the callers escape:
 * names are kept as decoded UTF-8).
 */
#include "policy/content/mime_walk.h"

#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#include "policy/content/archive_scan.h"
#include "policy/content/filetype.h"

#define READ_CHUNK 16384

/* What one pass over a part's decoded bytes collects. */
struct leaf_read {
    unsigned char head[MIME_HEAD_MAX]; /* the first decoded bytes, for type detection */
    size_t headlen;
    size_t size;
};

static bool is_text(const char *type, bool *html)
{
    *html = strcmp(type, "text/html") == 0;
    return *html || strcmp(type, "text/plain") == 0;
}

/* The decoded stream of a part: transfer decoding, and for text a conversion to UTF-8. */
static GMimeStream *decoded_stream(GMimePart *part, GMimeDataWrapper *content, bool text)
{
    GMimeStream *raw = g_mime_data_wrapper_get_stream(content);
    GMimeStream *f;
    GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);

    if (raw == NULL || (f = g_mime_stream_filter_new(raw)) == NULL)
        return NULL;
    g_mime_stream_reset(raw);
    if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
        enc == GMIME_CONTENT_ENCODING_UUENCODE) {
        GMimeFilter *dec = g_mime_filter_basic_new(enc, FALSE);
        g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), dec);
        g_object_unref(dec);
    }
    if (text) {
        const char *cs = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
        GMimeFilter *conv;
        if (cs != NULL && strcasecmp(cs, "utf-8") != 0 && strcasecmp(cs, "us-ascii") != 0 &&
            (conv = g_mime_filter_charset_new(cs, "UTF-8")) != NULL) {
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(f), conv);
            g_object_unref(conv);
        }
    }
    return f;
}

static void read_leaf(struct mime_facts *m, GMimePart *part, const char *type, bool inline_text,
                      struct leaf_read *r)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    bool html = false, text = inline_text && is_text(type, &html);
    struct mime_html hs = { 0 };
    GMimeStream *st;
    char buf[READ_CHUNK];
    ssize_t n;

    r->headlen = r->size = 0;
    if (content == NULL || (st = decoded_stream(part, content, text)) == NULL)
        return;
    if (text)
        mime_text_separate(m);
    while ((n = g_mime_stream_read(st, buf, sizeof buf)) > 0) {
        if (r->headlen < sizeof r->head) {
            size_t k = sizeof r->head - r->headlen < (size_t)n ? sizeof r->head - r->headlen : (size_t)n;
            memcpy(r->head + r->headlen, buf, k);
            r->headlen += k;
        }
        r->size += (size_t)n;
        if (text && m->text_len < MIME_TEXT_MAX)
            mime_text_append(m, buf, (size_t)n, html ? &hs : NULL);
    }
    g_object_unref(st);
}

/* Types whose members libarchive lists (libmagic's names for them). */
static bool archive_type(const char *t)
{
    static const char *const types[] = { "application/zip", "application/x-7z-compressed", "application/x-tar",
                                         "application/gzip", "application/x-gzip", "application/x-bzip2",
                                         "application/x-xz", "application/x-rar", "application/vnd.rar" };

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i]) == 0)
            return true;
    return false;
}

/*
 * The members of an archive part. Its decoded bytes are read again into a
 * spool of their own (memory, then an unlinked file: never the whole part
 * in memory), because libarchive reads a zip from its end.
 */
static enum archive_scan_result scan_members(GMimePart *part, struct mime_part *p)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    enum archive_scan_result r = ARCHIVE_SCAN_ERROR;
    struct spool s;
    GMimeStream *st;
    char buf[READ_CHUNK];
    ssize_t n = 0;
    const char *why;

    if (content == NULL || (st = decoded_stream(part, content, false)) == NULL)
        return ARCHIVE_SCAN_ERROR;
    spool_init(&s);
    while (!s.over && (n = g_mime_stream_read(st, buf, sizeof buf)) > 0)
        if (spool_write(&s, buf, (size_t)n, &why) < 0)
            break;
    g_object_unref(st);
    if (s.over)
        r = ARCHIVE_SCAN_LIMIT;
    else if (n == 0 && s.fd < 0)
        r = archive_scan_mem(s.mem, s.len, MIME_MEMBERS_MAX, mime_member_add, p);
    else if (n == 0 && lseek(s.fd, 0, SEEK_SET) == 0)
        r = archive_scan_fd(s.fd, MIME_MEMBERS_MAX, mime_member_add, p);
    spool_reset(&s);
    return r;
}

/*
 * What the bytes are (libmagic, from the first MIME_HEAD_MAX decoded
 * bytes) and, for an archive, its members one level deep (libarchive).
 * A type libmagic cannot give leaves the fact absent; an archive that
 * cannot be read to its end is an anomaly the rules can see.
 */
static void content_hook(struct mime_facts *m, struct mime_part *p, GMimePart *part, const struct leaf_read *r)
{
    if (filetype_detect(r->head, r->headlen, p->detected_type, sizeof p->detected_type) < 0)
        p->detected_type[0] = '\0';
    p->type_mismatch = mime_type_mismatch(p);
    if (!archive_type(p->detected_type))
        return;
    switch (scan_members(part, p)) {
    case ARCHIVE_SCAN_OK:
    case ARCHIVE_SCAN_NOT_ARCHIVE:
        break;
    case ARCHIVE_SCAN_ERROR:
        mime_anomaly(m, "broken-archive");
        break;
    case ARCHIVE_SCAN_LIMIT:
        mime_anomaly(m, "archive-limit");
        break;
    }
}

void mime_walk_leaf(struct mime_facts *m, unsigned index, GMimePart *part)
{
    struct leaf_read *r = malloc(sizeof *r);
    const char *name = g_mime_part_get_filename(part);
    const char *disp = g_mime_object_get_disposition(GMIME_OBJECT(part));
    bool attached = disp != NULL && strcasecmp(disp, "attachment") == 0;
    struct mime_part *p = &m->parts[index];

    p->leaf = true;
    if (name != NULL && name[0] != '\0') {
        p->name = strdup(name);
        mime_name_ext(name, p->ext, sizeof p->ext);
    }
    if (r == NULL)
        return;
    /* Text that a reader sees: text parts that are not attachments. */
    read_leaf(m, part, p->type, !attached && p->name == NULL, r);
    p = &m->parts[index];
    p->size = r->size;
    content_hook(m, p, part, r);
    free(r);
}
