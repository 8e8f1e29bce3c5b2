/*
 * accept_milter.c: the floor for the benchmarks. A libmilter milter that
 * takes every protocol step (headers and body included), each with a
 * reply, does no work and lets every message through: what any libmilter
 * milter that looks at whole messages costs the MTA.
 *
 * Test code: never installed. It must never look at, keep or change what
 * it is sent, and never negotiate a step away (that would lower the floor).
 *
 *   accept_milter -p unix:/path | inet:PORT@127.0.0.1
 */
#include <libmilter/mfapi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sfsistat accept_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)ctx, (void)host, (void)addr;
    return SMFIS_CONTINUE;
}

static sfsistat accept_arg(SMFICTX *ctx, char *arg)
{
    (void)ctx, (void)arg;
    return SMFIS_CONTINUE;
}

static sfsistat accept_unknown(SMFICTX *ctx, const char *cmd)
{
    (void)ctx, (void)cmd;
    return SMFIS_CONTINUE;
}

static sfsistat accept_argv(SMFICTX *ctx, char **argv)
{
    (void)ctx, (void)argv;
    return SMFIS_CONTINUE;
}

static sfsistat accept_header(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx, (void)name, (void)value;
    return SMFIS_CONTINUE;
}

static sfsistat accept_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    (void)ctx, (void)chunk, (void)len;
    return SMFIS_CONTINUE;
}

static sfsistat accept_none(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_CONTINUE;
}

static sfsistat accept_eom(SMFICTX *ctx)
{
    (void)ctx;
    return SMFIS_ACCEPT;
}

/* Every step, each with a reply: no SMFIP_NO* and no SMFIP_NR_* flags. */
static sfsistat accept_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                                 unsigned long f2, unsigned long f3, unsigned long *pf0,
                                 unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)ctx, (void)f0, (void)f1, (void)f2, (void)f3;
    *pf0 = 0;
    *pf1 = 0;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static struct smfiDesc accept_desc = {
    .xxfi_name = "accept_milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_NONE,
    .xxfi_connect = accept_connect,
    .xxfi_helo = accept_arg,
    .xxfi_envfrom = accept_argv,
    .xxfi_envrcpt = accept_argv,
    .xxfi_header = accept_header,
    .xxfi_eoh = accept_none,
    .xxfi_body = accept_body,
    .xxfi_eom = accept_eom,
    .xxfi_abort = accept_none,
    .xxfi_close = accept_none,
    .xxfi_unknown = accept_unknown,
    .xxfi_data = accept_none,
    .xxfi_negotiate = accept_negotiate,
};

int main(int argc, char **argv)
{
    const char *sock = NULL;
    int opt;

    while ((opt = getopt(argc, argv, "p:")) != -1) {
        if (opt != 'p')
            break;
        sock = optarg;
    }
    if (sock == NULL || optind != argc) {
        fprintf(stderr, "usage: accept_milter -p unix:/path|inet:PORT@127.0.0.1\n");
        return 64;
    }
    if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(accept_desc) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "accept_milter: cannot listen on %s\n", sock);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
