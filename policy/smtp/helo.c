/*
 * helo.c: classify HELO arguments. Clients send anything here: the
 * argument is only ever read within its length and copied within bounds.
 * A name is kept as lower-case A-labels (policy/smtp/idn.c); one that is
 * no valid international name is not valid at all.
 */
#include "policy/smtp/helo.h"

#include <string.h>

#include "policy/smtp/address.h"
#include "policy/smtp/idn.h"

static bool parse_ip(const char *s, size_t len, struct ipaddr *out)
{
    char buf[64];

    if (len == 0 || len >= sizeof buf)
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return ipaddr_parse(buf, out) == 0;
}

void helo_classify(const char *helo, size_t len, struct helo_info *out)
{
    const char *error;
    struct idn_error idn_error;

    memset(out, 0, sizeof *out);
    if (helo == NULL || len == 0)
        return;
    if (helo[0] == '[') {
        out->valid = address_check_domain(helo, len, &error) == 0;
        out->literal = out->valid; /* a malformed one is no address literal */
        if (out->valid) {
            const char *inner = helo + 1;
            size_t n = len - 2;
            if (n > 5 && strncasecmp(inner, "IPv6:", 5) == 0) {
                inner += 5;
                n -= 5;
            }
            out->has_ip = parse_ip(inner, n, &out->ip);
        }
        return;
    }
    if (parse_ip(helo, len, &out->ip)) {
        out->bare_ip = true;
        out->has_ip = true;
        return;
    }
    /* Lower-case A-labels, the form lists compare; a bad IDN is no valid name. */
    if (idn_to_alabels(helo, len, out->domain, &out->domain_len, &idn_error) < 0) {
        out->domain[0] = '\0';
        out->domain_len = 0;
        return;
    }
    out->valid = true;
    out->fqdn = memchr(out->domain, '.', out->domain_len) != NULL;
}
