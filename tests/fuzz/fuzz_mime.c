/*
 * fuzz_mime.c: libFuzzer harness for the content facts: a whole message
 * (headers and body) parsed by policy/content/mime.c with GMime, as the
 * end of data sees it.
 *
 * Invariants checked, not just "no crash": the limits hold (at most
 * MIME_PARTS_MAX parts, depth at most MIME_DEPTH_MAX, text at most
 * MIME_TEXT_MAX bytes and NUL-terminated), a limit word is one of the
 * documented ones, every extension is lower case and the tail of its
 * name, and the attachment count agrees with the index getters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/content/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mime_facts m;
    const char *err;
    unsigned n = 0;

    mime_init(&m);
    if (mime_parse_buffer(&m, data, size, &err) < 0)
        abort();
    if (m.nparts > MIME_PARTS_MAX || m.depth > MIME_DEPTH_MAX || m.text_len > MIME_TEXT_MAX ||
        (m.text != NULL && m.text[m.text_len] != '\0'))
        abort();
    if (strcmp(m.limit, "") != 0 && strcmp(m.limit, "size") != 0 && strcmp(m.limit, "parts") != 0 &&
        strcmp(m.limit, "depth") != 0 && strcmp(m.limit, "header") != 0)
        abort();
    for (const struct mime_part *p; (p = mime_attachment(&m, n)) != NULL; n++) {
        size_t el = strlen(p->ext);
        for (size_t i = 0; i < el; i++)
            if (p->ext[i] >= 'A' && p->ext[i] <= 'Z')
                abort();
        if (el > 0 && strcasestr(p->name, p->ext) == NULL)
            abort();
    }
    if (n != mime_attachment_count(&m))
        abort();
    mime_reset(&m);
    return 0;
}
