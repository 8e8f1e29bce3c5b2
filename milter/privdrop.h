/*
 * privdrop.h: become an unprivileged user for good.
 */
#ifndef MXG_MILTER_PRIVDROP_H
#define MXG_MILTER_PRIVDROP_H

#include <sys/types.h>

struct run_as {
    uid_t uid;
    gid_t gid;
    char name[64];
};

/* Resolve "USER" or "USER:GROUP". 0 or -1 with *error_r. */
int privdrop_lookup(const char *spec, struct run_as *out, const char **error_r);

/*
 * chroot (when dir is not NULL), then setgroups, setgid, empty the
 * capability bounding set, setuid, set no_new_privs, and check that root
 * cannot be regained. 0 or -1 with *error_r (errno set).
 */
int privdrop_apply(const struct run_as *who, const char *chroot_dir, const char **error_r);

#endif
