/*
 * macros.h: the one way mxguard reads an MTA macro (smfi_getsymval),
 * after checking what libmilter stored (milter/macros.c says why).
 */
#ifndef MXG_MILTER_MACROS_H
#define MXG_MILTER_MACROS_H

#include <libmilter/mfapi.h>

enum macros_state {
    MACROS_OK,          /* every stored list is names and values in pairs */
    MACROS_MALFORMED,   /* a list ends in a name without a value (a hostile or broken peer) */
    MACROS_UNCHECKABLE, /* this libmilter's context is not laid out as we know it */
};

/*
 * What libmilter stored for ctx. Needs smfi_setpriv(ctx, non-NULL) done
 * first: the private pointer is how the layout is verified.
 */
enum macros_state macros_check(SMFICTX *ctx);

/*
 * The value of macro name, or NULL when it is not set, and also when
 * macros_check(ctx) is not MACROS_OK: then smfi_getsymval is never called.
 */
const char *macros_get(SMFICTX *ctx, const char *name);

#endif
