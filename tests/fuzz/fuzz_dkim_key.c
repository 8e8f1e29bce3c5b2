/*
 * fuzz_dkim_key.c: libFuzzer harness for the DKIM key record rewrite
 * (policy/auth/dkim_key.c), which reads a key record from DNS, that is
 * from whoever runs the signing domain's name servers.
 *
 * Invariants checked, not just "no crash": a record that is left alone
 * leaves the output untouched; a rewritten record fits its bounds, is
 * NUL-terminated and is left alone when rewritten again (the result is
 * SubjectPublicKeyInfo, never PKCS#1 again); the same for a packet.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/auth/dkim_key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void record(const uint8_t *data, size_t size)
{
    static char out[DKIM_KEY_RECORD_MAX + 1], again[DKIM_KEY_RECORD_MAX + 1];
    size_t outlen = 0, againlen = 0;

    memset(out, 'x', sizeof out);
    if (dkim_key_record_fix((const char *)data, size, out, sizeof out, &outlen) == 0) {
        for (size_t i = 0; i < sizeof out; i++)
            if (out[i] != 'x')
                abort(); /* "out untouched" */
        return;
    }
    if (outlen > DKIM_KEY_RECORD_MAX || out[outlen] != '\0' || strlen(out) != outlen)
        abort();
    if (dkim_key_record_fix(out, outlen, again, sizeof again, &againlen) != 0)
        abort(); /* the rewrite is SPKI: a second pass finds nothing to do */
}

static void packet(const uint8_t *data, size_t size)
{
    static unsigned char out[2 * DKIM_KEY_RECORD_MAX], again[2 * DKIM_KEY_RECORD_MAX];
    size_t n = dkim_key_packet_fix(data, size, out, sizeof out);

    if (n == 0)
        return;
    if (n > sizeof out || n < 12 || memcmp(out, data, 4) != 0)
        abort(); /* bounded, and the header's id and flags are kept */
    if (dkim_key_packet_fix(out, n, again, sizeof again) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the form: a record's text, or a DNS packet. */
    if (size == 0)
        return 0;
    if (data[0] & 1)
        record(data + 1, size - 1);
    else
        packet(data + 1, size - 1);
    return 0;
}
