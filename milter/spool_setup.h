/*
 * spool_setup.h: the content rules' spool directory, made at start.
 */
#ifndef MXG_MILTER_SPOOL_SETUP_H
#define MXG_MILTER_SPOOL_SETUP_H

#include "milter/privdrop.h"

/*
 * Make dir (inside chroot_dir when given) with its missing parents (0755)
 * and, started as root with a run user, make it that user's with mode
 * 0700, as policy/content/spool.c demands. 0, or -1 with *error_r.
 */
int spool_setup(const char *dir, const char *chroot_dir, const struct run_as *who, const char **error_r);

#endif
