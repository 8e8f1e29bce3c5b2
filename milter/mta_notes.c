/*
 * mta_notes.c: where the same rules mean different things behind postfix
 * and behind sendmail, and what an MTA does not offer that the rules
 * need. The differences are measured, not read from documentation
 * (tests/e2e/SENDMAIL.md, tests/e2e/mta_parity.sh): postfix 3.7 and
 * sendmail 8.17 both offer every action and step of milter protocol 6
 * and both honour smfi_setsymlist; they differ in macro values and
 * timing and in what a quarantine becomes.
 *
 * Must never refuse a rule set, fail a negotiation or change a verdict:
 * it only tells.
 */
#include "milter/mta_notes.h"

#include <libmilter/mfapi.h>
#include <string.h>

#include "milter/negotiate.h"
#include "milter/log.h"
#include "rules/stage.h"

/* Macros whose value or presence differs between the two MTAs, and the
   fact that reads each (NULL: only macro "..." does). */
static const struct {
    const char *macro;
    const char *fact;
    const char *note;
} macro_notes[] = {
    { "{auth_authen}", "auth.user", "is the bare SASL login behind sendmail (\"user\") and user@domain "
                                    "behind postfix (smtpd_sasl_local_domain): match both, e.g. "
                                    "auth.user ~ \"^user(@example\\.org)?$\"" },
    { "{daemon_name}", "daemon.name", "is the listener's Name= (DAEMON_OPTIONS) behind sendmail and "
                                      "the host name (milter_macro_daemon_name) behind postfix" },
    { "{client_name}", NULL, "is the name sendmail found for the client (hosts file or DNS), "
                             "\"unknown\" behind a postfix without peer lookups" },
    { "_", NULL, "differs in form: \"name [address]\" or \"[address]\" from sendmail, "
                 "\"unknown [address]\" from postfix" },
    { "v", NULL, "is the MTA's version: \"8.17.1.9\" from sendmail, \"Postfix 3.7.11\" from postfix" },
    { "{if_name}", NULL, "is sent by sendmail only: undefined behind postfix" },
    { "{if_addr}", NULL, "is sent by sendmail only (and not for a loopback listener): undefined behind postfix" },
    { "{auth_ssf}", NULL, "is sent by sendmail only: undefined behind postfix" },
    { "{msg_id}", NULL, "is sent by sendmail only (at eoh and eom): undefined behind postfix" },
};

/* name is one of the space-separated words of list. */
static bool list_has(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; p != NULL && (p = strstr(p, name)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* The first stage whose macro list names macro, or STAGE_COUNT. */
static enum stage first_stage_asking(const struct ruleset *rs, const char *macro)
{
    for (int s = 0; s < STAGE_COUNT; s++)
        if (list_has(ruleset_macros(rs, (enum stage)s), macro))
            return (enum stage)s;
    return STAGE_COUNT;
}

/* The queue id: postfix has none until a recipient was accepted. */
static unsigned note_queue_id(const struct ruleset *rs, const char *path, FILE *out)
{
    enum stage s = first_stage_asking(rs, "i");

    if (s > STAGE_RCPT)
        return 0;
    fprintf(out, "%s: notice: macro \"i\" (read at stage %s): postfix defines the queue id only once a "
                 "recipient was accepted (undefined at the first rcpt and before); sendmail from "
                 "the connection on\n", path, stage_name(s));
    return 1;
}

unsigned mta_notes_print(const struct ruleset *rs, const char *path, FILE *out)
{
    unsigned n = note_queue_id(rs, path, out);

    for (size_t i = 0; i < sizeof macro_notes / sizeof macro_notes[0]; i++) {
        enum stage s = first_stage_asking(rs, macro_notes[i].macro);
        if (s == STAGE_COUNT)
            continue;
        if (macro_notes[i].fact != NULL)
            fprintf(out, "%s: notice: %s (macro \"%s\", read at stage %s) %s\n", path,
                    macro_notes[i].fact, macro_notes[i].macro, stage_name(s), macro_notes[i].note);
        else
            fprintf(out, "%s: notice: macro \"%s\" (read at stage %s) %s\n", path,
                    macro_notes[i].macro, stage_name(s), macro_notes[i].note);
        n++;
    }
    if (ruleset_quarantines(rs)) {
        fprintf(out, "%s: notice: quarantine: postfix holds the message in its hold queue and keeps no "
                     "reason (mxguard's log has it; postsuper -H releases); sendmail keeps it in its "
                     "queue with the reason (mailq -qQ lists, sendmail -Q -qI<queue id> releases)\n", path);
        n++;
    }
    return n;
}

/* What the MTA did not offer, each kind logged once per process. */
enum mta_lack {
    LACK_HEADERS = 1u << 0,
    LACK_QUARANTINE = 1u << 1,
    LACK_SYMLIST = 1u << 2,
    LACK_STEPS = 1u << 3,
    LACK_LEADSPC = 1u << 4,
};

static unsigned lacks_logged;

static unsigned lacks_of(const struct ruleset *rs, unsigned long actions, unsigned long lacking_steps)
{
    const unsigned long hdrs = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
    unsigned lacks = 0;

    if (ruleset_edits_headers(rs) && (actions & hdrs) != hdrs)
        lacks |= LACK_HEADERS;
    if (ruleset_quarantines(rs) && !(actions & SMFIF_QUARANTINE))
        lacks |= LACK_QUARANTINE;
    if (!(actions & SMFIF_SETSYMLIST))
        lacks |= LACK_SYMLIST;
    if (lacking_steps != 0)
        lacks |= LACK_STEPS;
    return lacks;
}

/* DKIM needs header values as sent; without the flag the MTA drops the space after the colon. */
static unsigned lacks_leadspace(const struct ruleset *rs, unsigned long steps)
{
    return ruleset_uses_dkim(rs) && !(steps & SMFIP_HDR_LEADSPC) ? LACK_LEADSPC : 0;
}

void mta_notes_negotiation(const struct ruleset *rs, unsigned long actions, unsigned long steps)
{
    unsigned long lacking = negotiate_protocol_flags(rs, ~0UL) & ~steps;
    unsigned lacks = lacks_of(rs, actions, lacking) | lacks_leadspace(rs, steps);
    unsigned fresh = lacks & ~__atomic_fetch_or(&lacks_logged, lacks, __ATOMIC_RELAXED);

    if (fresh & LACK_HEADERS)
        log_warnx("the MTA does not let mxguard add or change headers (actions 0x%lx): every message "
                  "a header edit of the rules applies to, Authentication-Results included, gets 451 "
                  "4.3.0 at end of data", actions);
    if (fresh & LACK_QUARANTINE)
        log_warnx("the MTA does not offer quarantine (actions 0x%lx): every message a quarantine rule "
                  "applies to gets 451 4.3.0 at end of data", actions);
    if (fresh & LACK_SYMLIST)
        log_warnx("the MTA does not let mxguard choose its macros (actions 0x%lx): its own lists must "
                  "send i, {auth_authen} and {auth_type} at MAIL FROM (sendmail "
                  "confMILTER_MACROS_ENVFROM, postfix milter_mail_macros) and the macros the rules "
                  "read, or authenticated clients are taken for anonymous ones", actions);
    if (fresh & LACK_STEPS)
        log_info("notice: the MTA cannot skip every step mxguard does not need (it offers protocol "
                 "steps 0x%lx, without 0x%lx; postfix with milter_protocol below 6 does that): "
                 "mxguard is sent them and answers each; the verdicts are the same", steps, lacking);
    if (fresh & LACK_LEADSPC)
        log_info("notice: the MTA does not pass header values as sent (no SMFIP_HDR_LEADSPC in protocol "
                 "steps 0x%lx; postfix with milter_protocol below 6, sendmail before 8.14): a DKIM "
                 "signature with c=simple over a field without exactly one space after the colon "
                 "cannot verify", steps);
}
