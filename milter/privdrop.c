/*
 * privdrop.c: drop root after the socket is open.
 *
 * Must never return success while any of the real, effective or saved ids
 * is still 0: the last step tries to get root back and fails closed if it
 * can.
 */

#include "milter/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int privdrop_lookup(const char *spec, struct run_as *out, const char **error_r)
{
    char user[64];
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    struct passwd *pw;

    if (ulen == 0 || ulen >= sizeof user) {
        *error_r = "expected USER or USER:GROUP";
        return -1;
    }
    memcpy(user, spec, ulen);
    user[ulen] = '\0';
    if ((pw = getpwnam(user)) == NULL) {
        *error_r = "no such user";
        return -1;
    }
    if (pw->pw_uid == 0) {
        *error_r = "the user to run as must not be root";
        return -1;
    }
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    snprintf(out->name, sizeof out->name, "%s", user);
    if (colon != NULL) {
        struct group *gr = getgrnam(colon + 1);
        if (gr == NULL) {
            *error_r = "no such group";
            return -1;
        }
        out->gid = gr->gr_gid;
    }
    return 0;
}

int privdrop_apply(const struct run_as *who, const char *chroot_dir, const char **error_r)
{
    uid_t r, e, s;

    if (chroot_dir != NULL) {
        if (chroot(chroot_dir) < 0 || chdir("/") < 0) {
            *error_r = "chroot";
            return -1;
        }
    }
    if (setgroups(1, &who->gid) < 0) {
        *error_r = "setgroups";
        return -1;
    }
    if (setresgid(who->gid, who->gid, who->gid) < 0) {
        *error_r = "setresgid";
        return -1;
    }
    if (setresuid(who->uid, who->uid, who->uid) < 0) {
        *error_r = "setresuid";
        return -1;
    }
    if (setuid(0) == 0 || seteuid(0) == 0) {
        errno = EPERM;
        *error_r = "root privileges could be regained after dropping them";
        return -1;
    }
    if (getresuid(&r, &e, &s) < 0 || r == 0 || e == 0 || s == 0) {
        errno = EPERM;
        *error_r = "a user id is still 0 after dropping privileges";
        return -1;
    }
    return 0;
}
