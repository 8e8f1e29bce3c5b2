/*
 * negotiate.c: the protocol steps, actions and macros mxguard asks of the
 * MTA for a rule set.
 *
 * Must never skip a step a rule needs, nor take one without a reply where
 * a rule may refuse: a refusal at connect is answered at HELO or later,
 * and a refusal at connect or helo is repeated at every later command.
 */
#include "milter/negotiate.h"

#include <stdio.h>
#include <string.h>

/* The steps that must be taken with a reply. */
static unsigned reply_stages(const struct ruleset *rs)
{
    unsigned rules = ruleset_stages(rs);

    if (rules & STAGE_BIT(STAGE_CONNECT))
        rules |= STAGE_BIT(STAGE_HELO);
    if (rules & (STAGE_BIT(STAGE_CONNECT) | STAGE_BIT(STAGE_HELO)))
        rules |= STAGE_BIT(STAGE_MAIL) | STAGE_BIT(STAGE_RCPT);
    return rules;
}

unsigned long negotiate_protocol_flags(const struct ruleset *rs, unsigned long offered)
{
    unsigned rules = reply_stages(rs);
    unsigned need = rules | ruleset_fact_stages(rs);
    unsigned message = STAGE_BIT(STAGE_MAIL) | STAGE_BIT(STAGE_RCPT) | STAGE_BIT(STAGE_DATA) |
                       STAGE_BIT(STAGE_EOH) | STAGE_BIT(STAGE_EOM);
    unsigned long flags = SMFIP_NOUNKNOWN;
    bool dkim = ruleset_uses_dkim(rs) || ruleset_signs_dkim(rs); /* verifying or signing */
    bool virus = ruleset_uses_virus(rs);                           /* the whole message goes to clamd */
    bool content = ruleset_uses_mime(rs); /* content facts: the whole message is spooled */

    if (!(need & STAGE_BIT(STAGE_HELO)))
        flags |= SMFIP_NOHELO;
    if (!(need & message))
        flags |= SMFIP_NOMAIL | SMFIP_NORCPT;
    if (!(rules & STAGE_BIT(STAGE_DATA)))
        flags |= SMFIP_NODATA;
    if (!(rules & STAGE_BIT(STAGE_EOH)))
        flags |= SMFIP_NOEOH;
    /* Headers: for header rules, to count what delete-header removes, for DKIM. */
    if (!(need & STAGE_BIT(STAGE_HEADER)) && !ruleset_deletes_headers(rs) && !dkim && !virus && !content)
        flags |= SMFIP_NOHDRS;
    /* The body only for DKIM, clamd and the content facts, and it never needs an answer: the MTA streams it. */
    flags |= dkim || virus || content ? SMFIP_NR_BODY : SMFIP_NOBODY;
    if (!(rules & STAGE_BIT(STAGE_HEADER)))
        flags |= SMFIP_NR_HDR;
    /* Steps we take only to record facts need no reply from us. */
    if (!(rules & STAGE_BIT(STAGE_CONNECT)))
        flags |= SMFIP_NR_CONN;
    if (!(rules & STAGE_BIT(STAGE_HELO)))
        flags |= SMFIP_NR_HELO;
    if (!(rules & STAGE_BIT(STAGE_MAIL)))
        flags |= SMFIP_NR_MAIL;
    if (!(rules & STAGE_BIT(STAGE_RCPT)))
        flags |= SMFIP_NR_RCPT;
    return flags & offered;
}

unsigned long negotiate_header_flags(unsigned long offered)
{
    return SMFIP_HDR_LEADSPC & offered;
}

unsigned negotiate_noreply_stages(unsigned long flags)
{
    unsigned m = 0;

    if (flags & SMFIP_NR_CONN) m |= STAGE_BIT(STAGE_CONNECT);
    if (flags & SMFIP_NR_HELO) m |= STAGE_BIT(STAGE_HELO);
    if (flags & SMFIP_NR_MAIL) m |= STAGE_BIT(STAGE_MAIL);
    if (flags & SMFIP_NR_RCPT) m |= STAGE_BIT(STAGE_RCPT);
    if (flags & SMFIP_NR_HDR) m |= STAGE_BIT(STAGE_HEADER);
    return m;
}

unsigned long negotiate_actions(const struct ruleset *rs, unsigned long offered)
{
    unsigned long want = SMFIF_SETSYMLIST;

    if (ruleset_edits_headers(rs))
        want |= SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    if (ruleset_quarantines(rs))
        want |= SMFIF_QUARANTINE;
    return want & offered;
}

/* True when word is one of the space-separated words of list. */
static bool listed(const char *list, const char *word)
{
    size_t n = strlen(word);

    for (const char *hit = strstr(list, word); hit != NULL; hit = strstr(hit + 1, word))
        if ((hit == list || hit[-1] == ' ') && (hit[n] == ' ' || hit[n] == '\0'))
            return true;
    return false;
}

bool negotiate_macros(const struct ruleset *rs, enum stage stage, char *out, size_t outsz)
{
    static const char *const ours[STAGE_COUNT] = {
        [STAGE_MAIL] = "i {auth_authen} {auth_type}",
        [STAGE_RCPT] = "i", [STAGE_DATA] = "i", [STAGE_EOH] = "i", [STAGE_EOM] = "i",
    };
    const char *theirs = ruleset_macros(rs, stage);
    char copy[1024], *save = NULL;

    snprintf(out, outsz, "%s", ours[stage] ? ours[stage] : "");
    if (theirs != NULL) {
        snprintf(copy, sizeof copy, "%s", theirs);
        for (char *m = strtok_r(copy, " ", &save); m != NULL; m = strtok_r(NULL, " ", &save)) {
            size_t used = strlen(out);
            if (!listed(out, m))
                snprintf(out + used, outsz - used, "%s%s", used ? " " : "", m);
        }
    }
    return out[0] != '\0';
}
