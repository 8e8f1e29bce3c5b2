/*
 * callbacks.h: the libmilter callback table.
 */
#ifndef MXG_MILTER_CALLBACKS_H
#define MXG_MILTER_CALLBACKS_H

#include <libmilter/mfapi.h>

extern struct smfiDesc mxguard_milter;

#endif
