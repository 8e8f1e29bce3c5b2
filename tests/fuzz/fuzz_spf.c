/*
 * fuzz_spf.c: libFuzzer harness for the SPF checks that stand between
 * DNS data or client text and libspf2.
 *
 * The input is an SPF record, an explanation text and an identity at
 * once: spf_record_check() must accept or refuse it (both address
 * families), and what it accepts must compile in libspf2; the explanation
 * check and expansion, the identity check and the Received-SPF value must
 * never crash, read or write out of bounds, or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy/auth/spf.h"
#include "policy/auth/spf_dns.h"
#include "policy/auth/spf_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static SPF_server_t *server;

static void quiet(const char *file, int line, const char *msg)
{
    (void)file;
    (void)line;
    (void)msg;
}

static void records(const char *text)
{
    char out[8192];
    const char *why;
    static const int families[] = { AF_INET, AF_INET6 };

    for (size_t f = 0; f < 2; f++) {
        if (spf_record_check(text, families[f], out, sizeof out, &why) < 0)
            continue;
        SPF_response_t *resp = SPF_response_new(NULL);
        SPF_record_t *rec = NULL;
        if (resp == NULL)
            continue;
        SPF_record_compile(server, resp, &rec, out);
        if (rec != NULL)
            SPF_record_free(rec);
        SPF_response_free(resp);
    }
}

static void explanation(const char *text, const char *sender, const char *helo)
{
    char out[SPF_EXPLANATION_MAX + 1], domain[SPF_DOMAIN_MAX + 1];
    const char *why;
    SPF_request_t *req;

    if (spf_exp_text_check(text) < 0 || (req = SPF_request_new(server)) == NULL)
        return;
    SPF_request_set_ipv4_str(req, "192.0.2.1");
    /* Only what spf_check() would hand over: checked identities. */
    if (spf_identity_domain(helo, sender, SPF_ID_MAILFROM, domain, &why) == 0) {
        SPF_request_set_env_from(req, sender[0] != '\0' ? sender : domain);
        SPF_request_set_helo_dom(req, domain);
        req->cur_dom = domain;
        spf_exp_expand(req, text, out, sizeof out);
    }
    SPF_request_free(req);
}

static void header(const char *sender, const char *helo)
{
    struct spf_outcome o;
    struct ipaddr ip;
    char buf[2048];
    const char *why;

    memset(&o, 0, sizeof o);
    o.result = AUTH_PERMERROR;
    spf_identity_domain(helo, sender, SPF_ID_MAILFROM, o.domain, &why);
    strncpy(o.problem, sender, sizeof o.problem - 1);
    ipaddr_parse("2001:db8::1", &ip);
    spf_received_value(&o, &ip, helo, sender, "mx.example", buf, sizeof buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (server == NULL) {
        SPF_warning_handler = quiet;
        SPF_info_handler = quiet;
        SPF_debug_handler = quiet;
        server = SPF_server_new_dns(spf_dns_layer_new(), 0);
    }
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    /* The part after the first newline is the identity: sender, then HELO. */
    char *sender = strchr(text, '\n');
    if (sender != NULL)
        *sender++ = '\0';
    char *helo = sender != NULL ? strchr(sender, '\n') : NULL;
    if (helo != NULL)
        *helo++ = '\0';
    records(text);
    explanation(text, sender != NULL ? sender : "", helo != NULL ? helo : "mail.example.org");
    header(sender != NULL ? sender : "", helo != NULL ? helo : "");
    free(text);
    return 0;
}
