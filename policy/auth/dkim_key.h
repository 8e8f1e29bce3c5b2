/*
 * dkim_key.h: DKIM key records made readable to libopendkim (internal to
 * policy/auth/dkim*.c).
 *
 * RFC 6376 section 3.6.1 says an RSA key record's p= is an RSAPublicKey
 * (PKCS#1); most publishers and libopendkim use SubjectPublicKeyInfo
 * (erratum 3017). Both are accepted: a p= that is a bare PKCS#1 key is
 * rewritten as the SubjectPublicKeyInfo of the same key before libopendkim
 * sees the record. Every other record (SPKI, ed25519, revoked, malformed)
 * is left exactly as it was, so libopendkim gives its own result.
 */
#ifndef MXG_POLICY_DKIM_KEY_H
#define MXG_POLICY_DKIM_KEY_H

#include <stddef.h>

#define DKIM_KEY_RECORD_MAX 8192 /* bytes of one key record (libopendkim's answer buffer) */
#define DKIM_KEY_DER_MAX 4096    /* bytes of a decoded p= (an RSA key of 16384 bits takes 2 KiB) */

/*
 * The record rec (len bytes, a tag list) with a PKCS#1 p= rewritten: 1 and
 * the new record in out (*outlen bytes, NUL-terminated) when p= was a bare
 * PKCS#1 RSAPublicKey and k= is absent or rsa; 0 when the record is to be
 * left as it is (out untouched); also 0 when the new record would not fit
 * outsz, or is over DKIM_KEY_RECORD_MAX.
 */
int dkim_key_record_fix(const char *rec, size_t len, char *out, size_t outsz, size_t *outlen);

/*
 * The same on a DNS answer packet, as libopendkim reads it: when its
 * answer section holds exactly one TXT record and that record was
 * rewritten, the packet with that record's new rdata is written to out
 * and its length returned; the answers after it and the authority and
 * additional sections are left out (libopendkim reads none of them).
 * 0: out untouched, the packet is to be used as it is (also when the
 * new packet would not fit outsz, or the packet is malformed).
 */
size_t dkim_key_packet_fix(const unsigned char *pkt, size_t len, unsigned char *out, size_t outsz);

#endif
