/*
 * callbacks.h: the libmilter callback table.
 */
#ifndef MXG_MILTER_CALLBACKS_H
#define MXG_MILTER_CALLBACKS_H

#include <libmilter/mfapi.h>

#include "rules/ruleset.h"

extern struct smfiDesc mxguard_milter;

/*
 * The protocol steps to skip (SMFIP_NO*) and to take without a reply
 * (SMFIP_NR_*) for a rule set, limited to what the MTA offered.
 */
unsigned long callbacks_protocol_flags(const struct ruleset *rs, unsigned long offered);

#endif
