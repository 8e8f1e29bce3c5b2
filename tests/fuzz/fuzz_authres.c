/*
 * fuzz_authres.c: libFuzzer harness for the header path of sender
 * authentication: the authserv-id parser that decides which
 * Authentication-Results headers are forged, and the composer that writes
 * ours from client-controlled values.
 *
 * Invariants checked, not just "no crash": a header we compose always
 * claims our authserv-id and holds no CR, no bare LF (only "\n\t"
 * folding) and no byte outside printable ASCII.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/auth/authres.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_composed(const char *v)
{
    for (const char *p = v; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\n' && p[1] == '\t')
            continue;
        if (c < 0x20 && c != '\t')
            abort();
        if (c >= 0x7f)
            abort();
    }
    if (!authres_claims(v, strlen(v), "mx.example.org"))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char id[AUTHRES_ID_MAX + 1], *s, out[AUTHRES_VALUE_MAX];

    /* The value as the MTA passes it: not NUL-terminated where it ends. */
    authres_claims((const char *)data, size, "mx.example.org");
    authres_authserv_id((const char *)data, size, id, sizeof id);
    if ((s = malloc(size + 1)) == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    {
        struct authres_item items[2] = {
            { "spf", AUTH_FAIL, { { "smtp.mailfrom", s }, { "smtp.helo", s } }, s },
            { "dkim", AUTH_PASS, { { "header.d", s }, { "header.s", s }, { "header.b", s } }, NULL },
        };
        if (authres_compose("mx.example.org", items, 2, out, sizeof out) == 0)
            check_composed(out);
    }
    free(s);
    return 0;
}
