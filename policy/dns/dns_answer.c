/*
 * dns_answer.c: what an answer owns, and freeing it.
 *
 * Shared by the resolver and the answer memo; must never free an answer
 * it was not handed, nor reach past the records it holds (DNS_RR_MAX).
 */
#include "policy/dns/dns_answer.h"

#include <stdlib.h>
#include <string.h>

void dns_answer_clear(struct dns_answer *a)
{
    for (unsigned i = 0; i < a->n && i < DNS_RR_MAX; i++)
        free(a->text[i]);
    free(a->packet);
    memset(a, 0, sizeof *a);
}
