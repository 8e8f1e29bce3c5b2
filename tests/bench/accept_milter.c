/*
 * accept_milter.c: the floor for the benchmarks. A libmilter milter that
 * takes every protocol step (headers and body included), each with a
 * reply, does no work and lets every message through: what any libmilter
 * milter that looks at whole messages costs the MTA.
 *
 * With -P FLAGS it negotiates those SMFIP_* protocol flags instead (those
 * the MTA offers), e.g. the ones another filter chose: the floor for a
 * filter that takes the same steps.
 *
 * Test code: never installed. It must never look at, keep or change what
 * it is sent, and never negotiate a step away unless told to with -P.
 *
 *   accept_milter -p unix:/path | inet:PORT@127.0.0.1 [-P 0xFLAGS]
 */
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The protocol flags to ask for (-P); set before the first connection. */
static unsigned long want_proto;

/* A step negotiated "no reply" must answer SMFIS_NOREPLY. */
static sfsistat step(unsigned long noreply)
{
    return (want_proto & noreply) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

static sfsistat accept_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *addr)
{
    (void)ctx, (void)host, (void)addr;
    return step(SMFIP_NR_CONN);
}

static sfsistat accept_helo(SMFICTX *ctx, char *arg)
{
    (void)ctx, (void)arg;
    return step(SMFIP_NR_HELO);
}

static sfsistat accept_unknown(SMFICTX *ctx, const char *cmd)
{
    (void)ctx, (void)cmd;
    return step(SMFIP_NR_UNKN);
}

static sfsistat accept_mail(SMFICTX *ctx, char **argv)
{
    (void)ctx, (void)argv;
    return step(SMFIP_NR_MAIL);
}

static sfsistat accept_rcpt(SMFICTX *ctx, char **argv)
{
    (void)ctx, (void)argv;
    return step(SMFIP_NR_RCPT);
}

static sfsistat accept_header(SMFICTX *ctx, char *name, char *value)
{
    (void)ctx, (void)name, (void)value;
    return step(SMFIP_NR_HDR);
}

static sfsistat accept_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
    (void)ctx, (void)chunk, (void)len;
    return step(SMFIP_NR_BODY);
}

static sfsistat accept_data(SMFICTX *ctx)
{
    (void)ctx;
    return step(SMFIP_NR_DATA);
}

static sfsistat accept_eoh(SMFICTX *ctx)
{
    (void)ctx;
    return step(SMFIP_NR_EOH);
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

/* By default every step, each with a reply: no SMFIP_NO* and no
   SMFIP_NR_* flags. An MTA that does not offer what -P asks for makes
   the session fail rather than lower the floor silently. */
static sfsistat accept_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                                 unsigned long f2, unsigned long f3, unsigned long *pf0,
                                 unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    (void)ctx, (void)f0, (void)f2, (void)f3;
    if ((f1 & want_proto) != want_proto)
        return SMFIS_REJECT;
    *pf0 = 0;
    *pf1 = want_proto;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static struct smfiDesc accept_desc = {
    .xxfi_name = "accept_milter",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_NONE,
    .xxfi_connect = accept_connect,
    .xxfi_helo = accept_helo,
    .xxfi_envfrom = accept_mail,
    .xxfi_envrcpt = accept_rcpt,
    .xxfi_header = accept_header,
    .xxfi_eoh = accept_eoh,
    .xxfi_body = accept_body,
    .xxfi_eom = accept_eom,
    .xxfi_abort = accept_none,
    .xxfi_close = accept_none,
    .xxfi_unknown = accept_unknown,
    .xxfi_data = accept_data,
    .xxfi_negotiate = accept_negotiate,
};

int main(int argc, char **argv)
{
    const char *sock = NULL;
    int opt;

    char *end = NULL;
    bool bad = false;

    while ((opt = getopt(argc, argv, "p:P:")) != -1) {
        if (opt == 'p')
            sock = optarg;
        else if (opt == 'P')
            want_proto = strtoul(optarg, &end, 16), bad |= *end != '\0';
        else
            bad = true;
    }
    if (bad || sock == NULL || optind != argc || (want_proto & ~(unsigned long)SMFI_CURR_PROT)) {
        fprintf(stderr, "usage: accept_milter -p unix:/path|inet:PORT@127.0.0.1 [-P 0xPROTOCOL_FLAGS]\n");
        return 64;
    }
    if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(accept_desc) != MI_SUCCESS ||
        smfi_opensocket(1) != MI_SUCCESS) {
        fprintf(stderr, "accept_milter: cannot listen on %s\n", sock);
        return 1;
    }
    return smfi_main() == MI_SUCCESS ? 0 : 1;
}
