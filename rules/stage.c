/*
 * stage.c: stage names as admins write them.
 */
#include "rules/stage.h"

#include <string.h>

static const char *const names[STAGE_COUNT] = {
    [STAGE_CONNECT] = "connect", [STAGE_HELO] = "helo", [STAGE_MAIL] = "mail",
    [STAGE_RCPT] = "rcpt",       [STAGE_DATA] = "data", [STAGE_HEADER] = "header",
    [STAGE_EOH] = "eoh",         [STAGE_EOM] = "eom",
};

const char *stage_name(enum stage s)
{
    return (unsigned)s < STAGE_COUNT ? names[s] : "?";
}

int stage_from_name(const char *name)
{
    for (int i = 0; i < STAGE_COUNT; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}
