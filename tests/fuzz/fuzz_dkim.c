/*
 * fuzz_dkim.c: libFuzzer harness for DKIM verification (policy/auth/dkim.c and
 * libopendkim behind it).
 *
 * The input is a message: header lines up to an empty line, the body
 * after it, fed as the milter glue feeds it. Signatures, header fields
 * and bodies are hostile input: any byte string must give an outcome,
 * never a crash, hang or leak. No resolver: a key lookup fails at once
 * (temperror), so every run stays in the parsers and canonicalization.
 * Small limits, so the limit paths are reached too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/auth/dkim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dkim_checker *checker(void)
{
    static struct dkim_checker *c;
    const struct dkim_limits lim = {
        .max_signatures = 3, .max_headers = 64, .max_header_bytes = 8192, .max_body_bytes = 4096,
        .deadline_ms = 100,
    };
    const char *error;

    if (c == NULL && (c = dkim_checker_new(NULL, &lim, &error)) == NULL)
        abort();
    return c;
}

/* One header: "Name:value" with folded lines; text is modified. */
static void header(struct dkim_check *m, char *text)
{
    char *colon = strchr(text, ':');

    if (colon == NULL)
        return;
    *colon = '\0';
    (void)dkim_check_header(m, text, colon + 1);
}

/* Headers up to the empty line; returns where the body starts. */
static char *headers(struct dkim_check *m, char *p)
{
    char *start = p;

    for (;;) {
        char *nl = strchr(p, '\n');
        if (nl == NULL) {
            if (p > start || *p != '\0')
                header(m, start);
            return p + strlen(p);
        }
        if (nl[1] == ' ' || nl[1] == '\t') {
            p = nl + 1; /* a folded line: the field goes on */
            continue;
        }
        *nl = '\0';
        if (nl == start || (nl == start + 1 && *start == '\r'))
            return nl + 1; /* the empty line */
        header(m, start);
        start = p = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dkim_outcome out;
    struct dkim_check *m;
    char *text, *body;

    if ((text = malloc(size + 1)) == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* an embedded NUL ends the message */
    if ((m = dkim_check_new(checker(), "fuzz")) != NULL) {
        body = headers(m, text);
        (void)dkim_check_eoh(m);
        (void)dkim_check_body(m, (const unsigned char *)body, strlen(body));
        dkim_check_eom(m, &out);
        dkim_check_free(m);
    }
    free(text);
    return 0;
}
