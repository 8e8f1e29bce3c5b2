/*
 * stage.h: the SMTP stages rules are attached to.
 */
#ifndef MXG_RULES_STAGE_H
#define MXG_RULES_STAGE_H

enum stage {
    STAGE_CONNECT,
    STAGE_HELO,
    STAGE_MAIL,
    STAGE_RCPT,
    STAGE_DATA,
    STAGE_HEADER,  /* once per header */
    STAGE_EOH,
    STAGE_EOM,
    STAGE_COUNT
};

#define STAGE_BIT(s) (1u << (s))

/* "connect", "helo", ...; NULL-safe reverse lookup returns -1 when unknown. */
const char *stage_name(enum stage s);
int stage_from_name(const char *name);

#endif
