/*
 * spf_record.h: RFC 7208 syntax checks on SPF records and explanation
 * texts, made before libspf2 parses either.
 */
#ifndef MXG_POLICY_SPF_RECORD_H
#define MXG_POLICY_SPF_RECORD_H

#include <stddef.h>

/*
 * Check rec (printable ASCII, starting "v=spf1") against RFC 7208's ABNF
 * and write the record libspf2 is to compile into out: the mechanisms in
 * order, then exp=, then redirect= (dropped when an "all" is present);
 * unknown modifiers left out. libspf2 refuses a prefix length of 0, so
 * for a client of family (AF_INET, AF_INET6) such terms are rewritten:
 * ip4:X/0 and ip6:X/0 into two /1 halves (or nothing for the other
 * family), a and mx into a lookup of NAME SPF_ANY_ADDRESS_LABEL at full
 * length, whose addresses the DNS layer answers as the client's. 0, or
 * -1 with *why_r: a permerror.
 */
int spf_record_check(const char *rec, int family, char *out, size_t outsz, const char **why_r);

/* The label that marks a lookup of an a/0 or mx/0 term (see spf_record_check). */
#define SPF_ANY_ADDRESS_LABEL "._mxguard-cidr0"

/* An explanation TXT record (RFC 7208 6.2): printable ASCII, well-formed macros. 0 or -1. */
int spf_exp_text_check(const char *text);

#endif
