/*
 * privdrop.c: drop root after the socket is open.
 *
 * Must never return success while any of the real, effective or saved ids
 * is still 0, while a capability is left in the bounding set, or without
 * no_new_privs: the last steps try to get root back and check the rest,
 * and fail closed if any of it holds.
 */

#include "milter/privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

/*
 * Empty the capability bounding set, while we still hold CAP_SETPCAP
 * (that is, before setresuid). setresuid to a non-root user clears the
 * permitted and effective sets by itself, but leaves the bounding set
 * full: it would still let an exec'd file with capabilities gain them.
 * The loop ends where the kernel's capabilities end (EINVAL).
 */
static int drop_bounding_set(void)
{
    int cap, set;

    for (cap = 0; (set = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) >= 0; cap++) {
        if (set == 1 && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return -1;
    }
    return errno == EINVAL && cap > 0 ? 0 : -1;
}

static int bounding_set_empty(void)
{
    int cap, set;

    for (cap = 0; (set = prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) >= 0; cap++) {
        if (set != 0)
            return 0;
    }
    return 1;
}

/* After the drop: nothing may bring root or a capability back. */
static int verify_dropped(const char **error_r)
{
    uid_t r, e, s;

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
    if (!bounding_set_empty() || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
        errno = EPERM;
        *error_r = "a capability or the right to gain privileges is left after dropping them";
        return -1;
    }
    return 0;
}

int privdrop_apply(const struct run_as *who, const char *chroot_dir, const char **error_r)
{
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
    if (drop_bounding_set() < 0) {
        *error_r = "emptying the capability bounding set";
        return -1;
    }
    if (setresuid(who->uid, who->uid, who->uid) < 0) {
        *error_r = "setresuid";
        return -1;
    }
    /* mxguard never executes a program, and neither must anything that
       runs inside it: no_new_privs makes sure no exec (a library's, or
       one an attacker brought about) can gain privileges through a
       set-user-id file or file capabilities, and it is inherited by the
       filter processes the supervisor forks. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        *error_r = "prctl(PR_SET_NO_NEW_PRIVS)";
        return -1;
    }
    return verify_dropped(error_r);
}
