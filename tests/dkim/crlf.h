/*
 * crlf.h: the DKIM test tools read message files as SMTP carries them:
 * a bare LF becomes CRLF. Test code only.
 */
#ifndef MXG_TESTS_DKIM_CRLF_H
#define MXG_TESTS_DKIM_CRLF_H

#include <stdio.h>

/* Read up to insz bytes of f into out (room for 2 * insz), LF -> CRLF;
   *prev carries the last byte across calls. Returns the bytes in out. */
static size_t crlf_read(FILE *f, unsigned char *out, size_t insz, int *prev)
{
    unsigned char *in = out + insz; /* the upper half, read before it is written */
    size_t n = fread(in, 1, insz, f), o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = in[i];
        if (c == '\n' && *prev != '\r')
            out[o++] = '\r';
        out[o++] = c;
        *prev = c;
    }
    return o;
}

#endif
