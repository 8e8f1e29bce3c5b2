/*
 * idn.h: international domain names in the one form they are compared in,
 * lower-case A-labels ("xn--bcher-kva.example" for "bücher.example").
 */
#ifndef MXG_POLICY_IDN_H
#define MXG_POLICY_IDN_H

#include <stdbool.h>
#include <stddef.h>

#define IDN_DOMAIN_MAX 255   /* octets of the A-label form, as RFC 5321 and libidn2 bound it */
#define IDN_INPUT_MAX 1024   /* octets of the form as written: U-labels take more than A-labels */
#define IDN_ERROR_MAX 200

struct idn_error {
    const char *reason;          /* static: libidn2's words or ours; for clients' input */
    char text[IDN_ERROR_MAX];    /* the reason with the label at fault, for rule files */
};

/*
 * True when d (len bytes) needs IDN processing: a byte outside ASCII, or a
 * label that starts with "xn--" (in any case). A name without either only
 * needs its case folded.
 */
bool idn_is_international(const char *d, size_t len);

/*
 * Turn the domain d (len bytes; U-labels, A-labels or both, any case,
 * one trailing dot allowed and dropped) into lower-case A-labels in out
 * (NUL-terminated, *out_len bytes). Labels are mapped with IDNA2008 and
 * UTS #46 non-transitional processing; an "xn--" label must decode to a
 * valid U-label. An address literal ("[192.0.2.1]") is checked and
 * folded to lower case. The result is an RFC 5321 domain: LDH labels of
 * at most 63 octets, at most IDN_DOMAIN_MAX octets in all.
 * Returns 0, or -1 with *err filled.
 */
int idn_to_alabels(const char *d, size_t len, char out[IDN_DOMAIN_MAX + 1], size_t *out_len,
                   struct idn_error *err);

#endif
