/*
 * negotiate.h: what mxguard asks of the MTA when a connection starts:
 * the protocol steps to skip or take without a reply, and the macros the
 * rules read. Depends on the rule set only, so it is unit-tested alone.
 */
#ifndef MXG_MILTER_NEGOTIATE_H
#define MXG_MILTER_NEGOTIATE_H

#include <libmilter/mfapi.h>

#include "rules/ruleset.h"

/*
 * The protocol steps to skip (SMFIP_NO*) and to take without a reply
 * (SMFIP_NR_*) for a rule set, limited to what the MTA offered.
 */
unsigned long negotiate_protocol_flags(const struct ruleset *rs, unsigned long offered);

/*
 * SMFIP_HDR_LEADSPC where the MTA offers it (postfix 2.6+ with
 * milter_protocol 6, sendmail 8.14+): header values then come as they
 * were after the colon, which DKIM's c=simple hashes, and the values of
 * the headers we add or change must carry their own leading space.
 */
unsigned long negotiate_header_flags(unsigned long offered);

/* STAGE_BIT mask of the steps taken without a reply, from negotiated flags. */
unsigned negotiate_noreply_stages(unsigned long flags);

/* The actions (SMFIF_*) the rules may need, limited to what the MTA offered. */
unsigned long negotiate_actions(const struct ruleset *rs, unsigned long offered);

/*
 * The macros to ask for at a stage: ours and those the rules read, each
 * once, space-separated, in out. Returns false when there are none.
 */
bool negotiate_macros(const struct ruleset *rs, enum stage stage, char *out, size_t outsz);

#endif
