/*
 * auth_setup.c: SPF, DKIM and DMARC checkers from the options.
 *
 * The authserv-id defaults to the host name: what an admin sees in
 * "hostname -f" is what the mailboxes behind us should trust.
 */
#include "milter/auth_setup.h"

#include <string.h>
#include <unistd.h>

static char host_name[256];

int auth_setup(const struct options *o, struct dns_resolver *r, struct sendauth_config *cfg,
               const char **error_r)
{
    memset(cfg, 0, sizeof *cfg);
    if (o->authserv_id != NULL) {
        cfg->authserv_id = o->authserv_id;
    } else {
        if (gethostname(host_name, sizeof host_name - 1) < 0 || host_name[0] == '\0')
            strcpy(host_name, "localhost");
        cfg->authserv_id = host_name;
    }
    if (r == NULL)
        return 0;
    {
        struct spf_limits sl = { .deadline_ms = o->dns_budget_ms };
        if ((cfg->spf = spf_checker_new(r, &sl, cfg->authserv_id, error_r)) == NULL)
            return -1;
    }
    {
        struct dkim_limits dl = { .max_signatures = o->dkim_max_signatures,
                                  .min_rsa_bits = o->dkim_min_key_bits,
                                  .deadline_ms = o->dns_budget_ms };
        if ((cfg->dkim = dkim_checker_new(r, &dl, error_r)) == NULL) {
            auth_teardown(cfg);
            return -1;
        }
    }
    {
        /* Without the Public Suffix List (a chroot without it, where
           main did not read it first) DMARC is not set up and its
           facts are temperror; mxguard refused to start if the rules used them. */
        struct dmarc_limits ml = { .deadline_ms = o->dns_budget_ms };
        const char *ignored;
        cfg->dmarc = dmarc_checker_new(r, &ml, &ignored);
    }
    return 0;
}

void auth_teardown(struct sendauth_config *cfg)
{
    spf_checker_free(cfg->spf);
    dkim_checker_free(cfg->dkim);
    dmarc_checker_free(cfg->dmarc);
    cfg->spf = NULL;
    cfg->dkim = NULL;
    cfg->dmarc = NULL;
}
