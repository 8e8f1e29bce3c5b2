/*
 * spool_setup.c: the spool directory of the content rules, made while
 * mxguard is still root. The filter creates it on first use too, but as
 * the run user it cannot create /var/lib/mxguard/spool on a host where
 * /var/lib/mxguard is not its own: every message past the in-memory spool
 * would then tempfail. Like postfix's set-permissions, the directory the
 * admin named is made the run user's (0700); its parents are left as they
 * are, or made root's 0755 when missing.
 */
#include "milter/spool_setup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_parents(char *path, const char **error_r)
{
    for (char *p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
        *p = '\0';
        int rc = mkdir(path, 0755);
        *p = '/';
        if (rc < 0 && errno != EEXIST) {
            *error_r = strerror(errno);
            return -1;
        }
    }
    return 0;
}

int spool_setup(const char *dir, const char *chroot_dir, const struct run_as *who, const char **error_r)
{
    char path[4096];
    struct stat st;

    if (dir[0] != '/') {
        *error_r = "not an absolute path";
        return -1;
    }
    if (snprintf(path, sizeof path, "%s%s", chroot_dir != NULL ? chroot_dir : "", dir) >= (int)sizeof path) {
        *error_r = "path too long";
        return -1;
    }
    if (mkdir_parents(path, error_r) < 0)
        return -1;
    if (mkdir(path, 0700) < 0 && errno != EEXIST) {
        *error_r = strerror(errno);
        return -1;
    }
    if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        *error_r = "not a directory";
        return -1;
    }
    if (who == NULL || geteuid() != 0)
        return 0;
    if (chown(path, who->uid, who->gid) < 0 || chmod(path, 0700) < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    return 0;
}
