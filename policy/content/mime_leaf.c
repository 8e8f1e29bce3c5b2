/*
 * mime_leaf.c: one leaf part: its file name and extension, its decoded
 * size, its text for body.text, and the content hook where the detected
 * type and archive members are filled in.
 *
 * The contents are decoded through GMime's filters a buffer at a time,
 * from the spool: never held whole in memory. Must never let a name
 * from the message reach a log or reply unescaped (the callers escape:
 * names are kept as decoded UTF-8).
 */
#include "policy/content/mime_walk.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define READ_CHUNK 16384

/* What one pass over a part's decoded bytes collects. */
struct leaf_read {
    unsigned char head[MIME_HEAD_MAX]; /* the first decoded bytes, for type detection */
    size_t headlen;
    size_t size;
};

/*
 * ===== THE CONTENT HOOK =====
 * Called once for every leaf part after its decoded bytes were read:
 * head/headlen are its first MIME_HEAD_MAX decoded bytes. Fill in here,
 * once policy/content/filetype.h and archive_scan.h exist:
 *
 *   filetype_detect(head, headlen, p->detected_type, sizeof p->detected_type);
 *   p->type_mismatch = mime_type_mismatch(p);
 *   archive members (one level deep), through mime_member_add(p, ...):
 *   archive_scan_mem(head, headlen, MIME_MEMBERS_MAX, mime_member_add, p)
 *   when p->size == headlen, else from a decoded copy of the part.
 *
 * Until then detected_type stays "" and members empty: the facts
 * attachment.detected_type, attachment.type_mismatch, archive.member,
 * archive.member_ext and archive.encrypted read as absent.
 */
static void content_hook(struct mime_facts *m, struct mime_part *p, const unsigned char *head, size_t headlen)
{
    (void)m;
    (void)p;
    (void)head;
    (void)headlen;
}

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
    content_hook(m, p, r->head, r->headlen);
    free(r);
}
