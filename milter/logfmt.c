/*
 * logfmt.c: escape values for key=value log lines (see logfmt.h).
 *
 * Must never let a byte through that could end a value, start a field or
 * a line: a client's HELO, address or reply text is data, never format.
 */
#include "milter/logfmt.h"

#include <stdio.h>
#include <string.h>

static bool bare_byte(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

static bool needs_quotes(const char *in, size_t len)
{
    if (len == 0 || len > LOGFMT_VALUE_MAX)
        return true;
    for (size_t i = 0; i < len; i++)
        if (!bare_byte((unsigned char)in[i]))
            return true;
    return false;
}

static const char *write_value(const char *in, size_t len, bool quote, char *out, size_t outsz)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, n = len > LOGFMT_VALUE_MAX ? LOGFMT_VALUE_MAX : len;

    if (outsz < LOGFMT_BUF) {
        snprintf(out, outsz, "\"\"");
        return out; /* a caller's mistake: nothing unescaped ever */
    }
    if (quote)
        out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f || c == '=') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    if (n < len) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    if (quote)
        out[o++] = '"';
    out[o] = '\0';
    return out;
}

const char *logfmt_value(const char *in, size_t len, char *out, size_t outsz)
{
    return write_value(in, len, needs_quotes(in, len), out, outsz);
}

const char *logfmt_str(const char *in, char *out, size_t outsz)
{
    if (in == NULL)
        in = "-";
    return logfmt_value(in, strlen(in), out, outsz);
}

const char *logfmt_quoted(const char *in, char *out, size_t outsz)
{
    if (in == NULL)
        in = "";
    return write_value(in, strlen(in), true, out, outsz);
}
