/*
 * mta_notes.h: what a rule set asks that postfix and sendmail do
 * differently, or that the MTA at hand does not offer.
 */
#ifndef MXG_MILTER_MTA_NOTES_H
#define MXG_MILTER_MTA_NOTES_H

#include <stdio.h>

#include "rules/ruleset.h"

/*
 * "mxguard -n": one "PATH: notice: ..." line on out for each thing the
 * rules use whose meaning differs between postfix and sendmail (macro
 * values and timing, quarantine). Returns how many lines it wrote.
 */
unsigned mta_notes_print(const struct ruleset *rs, const char *path, FILE *out);

/*
 * At negotiation: log what the MTA does not offer that the rules need
 * (header changes, quarantine, choosing macros, skipping steps),
 * once per filter process for each kind, with what it means for mail.
 */
void mta_notes_negotiation(const struct ruleset *rs, unsigned long actions, unsigned long steps);

#endif
