/*
 * macros.c: reads MTA macros for the callbacks, and never lets a macro
 * packet crash the filter. Must never call smfi_getsymval on a context
 * whose stored macro lists it could not check.
 *
 * The defect (libmilter 8.17.1, as in Debian 12): engine.c st_macros()
 * splits an SMFIC_MACRO packet with dec_argv(), which allocates nelem + 1
 * pointers for nelem NUL-terminated strings and ends the array with NULL;
 * it does not check that nelem is even. smfi.c smfi_getsymval() walks
 * each stored array two entries at a time ("++s; /+ skip over macro value
 * +/ ++s;") and only stops on *s == NULL. With an odd count (a name
 * without a value: "D" "M" "{x}\0") the walk steps over the terminating
 * NULL to s[nelem + 1], one pointer past the allocation, and strcmp()s
 * whatever is there: a heap over-read and, in practice, SIGSEGV. Any
 * lookup that does not find its name before an odd array crashes, since
 * smfi_getsymval searches every stage's array.
 *
 * What mxguard does: SMFICTX is opaque, but in libmilter 8.14 to 8.17
 * (libmilter.h, struct smfi_str) the stored lists sit at a fixed place:
 * ctx_mac_ptr[7], ctx_mac_buf[7], ctx_mac_list[7], ctx_reply, then
 * ctx_privdata. The prefix is mirrored below, and checked on every call
 * before anything else is read: ctx_privdata must be the pointer that
 * smfi_getpriv() returns (ours, never NULL), and each stored array must
 * start one byte into its packet buffer (dec_argv(a_buf + 1, ...)). If a
 * check fails, the layout is not the one we know: macros read as unset
 * (logged once at err), never a call into the defect. If it holds, each
 * array is counted up to its NULL (inside the allocation: dec_argv always
 * writes it) and an odd count is MACROS_MALFORMED: the callbacks then
 * answer tempfail and ask libmilter for nothing.
 */
#include "milter/macros.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "milter/log.h"

#define LIBMILTER_MACRO_LISTS 7 /* MAX_MACROS_ENTRIES: CI_CONN .. CI_EOH */

/* The start of libmilter 8.14-8.17's struct smfi_str (libmilter/libmilter.h). */
struct libmilter_ctx_prefix {
    pthread_t ctx_id;
    int ctx_sd;
    int ctx_dbg;
    time_t ctx_timeout;
    int ctx_state;
    void *ctx_smfi;
    unsigned long ctx_prot_vers;
    unsigned long ctx_aflags;
    unsigned long ctx_pflags;
    unsigned long ctx_pflags2mta;
    unsigned long ctx_prot_vers2mta;
    char **ctx_mac_ptr[LIBMILTER_MACRO_LISTS];
    char *ctx_mac_buf[LIBMILTER_MACRO_LISTS];
    char *ctx_mac_list[LIBMILTER_MACRO_LISTS];
    char *ctx_reply;
    void *ctx_privdata;
};

static atomic_bool layout_reported;

/* A pointer-sized field of the opaque context, read without type punning. */
static void *ctx_field(SMFICTX *ctx, size_t offset)
{
    void *v;

    memcpy(&v, (const char *)ctx + offset, sizeof v);
    return v;
}

static enum macros_state uncheckable(const char *why)
{
    if (!atomic_exchange(&layout_reported, true))
        log_errx("libmilter's context is not laid out as mxguard knows it (%s): "
                 "MTA macros are ignored so that a malformed macro packet cannot crash the filter", why);
    return MACROS_UNCHECKABLE;
}

enum macros_state macros_check(SMFICTX *ctx)
{
    void *priv = smfi_getpriv(ctx);
    enum macros_state state = MACROS_OK;

    if (priv == NULL || ctx_field(ctx, offsetof(struct libmilter_ctx_prefix, ctx_privdata)) != priv)
        return priv == NULL ? MACROS_UNCHECKABLE : uncheckable("private data pointer not where expected");
    for (size_t i = 0; i < LIBMILTER_MACRO_LISTS; i++) {
        char **argv = ctx_field(ctx, offsetof(struct libmilter_ctx_prefix, ctx_mac_ptr) + i * sizeof argv);
        char *buf = ctx_field(ctx, offsetof(struct libmilter_ctx_prefix, ctx_mac_buf) + i * sizeof buf);
        size_t n = 0;

        if (argv == NULL || buf == NULL) {
            if ((argv == NULL) != (buf == NULL))
                return uncheckable("a macro list without its buffer");
            continue;
        }
        if (argv[0] != buf + 1)
            return uncheckable("a macro list outside its buffer");
        while (argv[n] != NULL)
            n++;
        if (n % 2 != 0)
            state = MACROS_MALFORMED;
    }
    return state;
}

const char *macros_get(SMFICTX *ctx, const char *name)
{
    if (macros_check(ctx) != MACROS_OK)
        return NULL;
    return smfi_getsymval(ctx, (char *)name);
}
