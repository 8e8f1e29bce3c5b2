/*
 * idn.c: every domain that mxguard compares, from a client or from a rule
 * file, goes through idn_to_alabels() first, so "bücher.example" and
 * "xn--bcher-kva.example" are one name everywhere.
 *
 * Input may come from clients: it is read within its length only, bounded
 * before libidn2 sees it, and the result is bounded again. Must never pass
 * on a name it could not convert, or a result that is not plain LDH ASCII.
 */
#include "policy/smtp/idn.h"

#include <ctype.h>
#include <idn2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/smtp/address.h"

#define LABEL_SHOWN 64 /* bytes of a label quoted in a message */

static void fail(struct idn_error *err, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct idn_error *err, const char *reason, const char *fmt, ...)
{
    va_list ap;

    err->reason = reason;
    if (fmt == NULL) {
        snprintf(err->text, sizeof err->text, "%s", reason);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
}

static bool is_alabel_prefix(const char *label, size_t n)
{
    return n >= 4 && strncasecmp(label, "xn--", 4) == 0;
}

bool idn_is_international(const char *d, size_t len)
{
    bool label_start = true;

    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)d[i] >= 0x80)
            return true;
        if (label_start && is_alabel_prefix(d + i, len - i))
            return true;
        label_start = d[i] == '.';
    }
    return false;
}

static void copy_lower(char *out, const char *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[n] = '\0';
}

/* One label (n bytes, not empty) through libidn2, appended to out at *used. */
static int convert_label(const char *label, size_t n, char *out, size_t *used, struct idn_error *err)
{
    char in[IDN_INPUT_MAX + 1];
    char *res = NULL;
    size_t rlen;
    int rc;
    bool alabel = is_alabel_prefix(label, n);
    int shown = (int)(n > LABEL_SHOWN ? LABEL_SHOWN : n);

    memcpy(in, label, n); /* n <= IDN_INPUT_MAX: the caller bounded the whole name */
    in[n] = '\0';
    rc = idn2_lookup_u8((const uint8_t *)in, (uint8_t **)&res, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (rc == IDN2_MALLOC) {
        /* Not the client's fault: the words the envelope turns into a tempfail. */
        fail(err, "out of memory", NULL);
        return -1;
    }
    if (rc != IDN2_OK) {
        if (alabel)
            fail(err, idn2_strerror(rc), "\"%.*s\" is not a valid A-label: %s", shown, label, idn2_strerror(rc));
        else
            fail(err, idn2_strerror(rc), "\"%.*s\" is not a valid international domain label: %s",
                 shown, label, idn2_strerror(rc));
        return -1;
    }
    rlen = strlen(res);
    for (size_t i = 0; i < rlen; i++) {
        if ((unsigned char)res[i] >= 0x80) {
            free(res);
            fail(err, "invalid UTF-8 in domain", "\"%.*s\": invalid UTF-8 in domain", shown, label);
            return -1;
        }
    }
    if (*used + rlen > IDN_DOMAIN_MAX) {
        free(res);
        fail(err, "domain longer than 255 octets", "domain longer than 255 octets as A-labels");
        return -1;
    }
    copy_lower(out + *used, res, rlen); /* libidn2 folds case already; keep it certain */
    *used += rlen;
    free(res);
    return 0;
}

/* The whole name, label by label: ASCII labels as they are, the others through libidn2. */
static int convert(const char *d, size_t len, char *out, size_t *out_len, struct idn_error *err)
{
    size_t used = 0, start = 0;

    while (start <= len) {
        const char *dot = memchr(d + start, '.', len - start);
        size_t n = (dot != NULL ? (size_t)(dot - d) : len) - start;
        const char *label = d + start;

        if (n > 0 && idn_is_international(label, n)) {
            if (convert_label(label, n, out, &used, err) < 0)
                return -1;
        } else if (used + n > IDN_DOMAIN_MAX) {
            fail(err, "domain longer than 255 octets", "domain longer than 255 octets as A-labels");
            return -1;
        } else {
            copy_lower(out + used, label, n);
            used += n;
        }
        if (dot == NULL)
            break;
        if (used + 1 > IDN_DOMAIN_MAX) {
            fail(err, "domain longer than 255 octets", "domain longer than 255 octets as A-labels");
            return -1;
        }
        out[used++] = '.';
        start += n + 1;
    }
    out[used] = '\0';
    *out_len = used;
    return 0;
}

int idn_to_alabels(const char *d, size_t len, char out[IDN_DOMAIN_MAX + 1], size_t *out_len,
                   struct idn_error *err)
{
    const char *error;

    out[0] = '\0';
    *out_len = 0;
    if (memchr(d, '\0', len) != NULL) {
        fail(err, "NUL byte in domain", NULL);
        return -1;
    }
    if (len > 0 && d[0] != '[' && d[len - 1] == '.')
        len--;
    if (len > 0 && d[0] != '[' && idn_is_international(d, len)) {
        if (len > IDN_INPUT_MAX) {
            fail(err, "domain longer than 255 octets", NULL);
            return -1;
        }
        if (convert(d, len, out, out_len, err) < 0) {
            out[0] = '\0';
            *out_len = 0;
            return -1;
        }
        /* The A-label form must be an RFC 5321 domain like any other. */
        if (address_check_domain(out, *out_len, &error) < 0) {
            fail(err, error, "%s (as A-labels: \"%.80s%s\")", error, out, *out_len > 80 ? "..." : "");
            out[0] = '\0';
            *out_len = 0;
            return -1;
        }
        return 0;
    }
    if (address_check_domain(d, len, &error) < 0) {
        fail(err, error, NULL);
        return -1;
    }
    copy_lower(out, d, len);
    *out_len = len;
    return 0;
}
