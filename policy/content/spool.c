/*
 * spool.c: keep a message's bytes for the MIME parser, bounded.
 *
 * Memory up to SPOOL_MEM_MAX, then an unlinked file (O_TMPFILE, else
 * mkstemp and an immediate unlink) in the spool directory, mode 0600.
 * Must never keep more than the limit, never leave a named file behind,
 * and never let a write error read as a clean message.
 */
#include "policy/content/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *spool_directory = SPOOL_DEFAULT_DIR;
static pthread_once_t dir_once = PTHREAD_ONCE_INIT;
static int dir_status;
static const char *dir_error = "";

void spool_set_dir(const char *dir)
{
    spool_directory = dir != NULL && dir[0] != '\0' ? dir : SPOOL_DEFAULT_DIR;
}

const char *spool_dir(void)
{
    return spool_directory;
}

int spool_prepare_dir(const char *dir, const char **error_r)
{
    struct stat st;
    DIR *d;
    struct dirent *e;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        *error_r = strerror(errno);
        return -1;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        *error_r = "not a directory";
        return -1;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        *error_r = "must belong to the user mxguard runs as, with no access for group and others (0700)";
        return -1;
    }
    /* Named files exist only between mkstemp and unlink: a crash there. */
    if ((d = opendir(dir)) != NULL) {
        while ((e = readdir(d)) != NULL)
            if (strncmp(e->d_name, "spool.", 6) == 0)
                (void)unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    return 0;
}

static void prepare_once(void)
{
    dir_status = spool_prepare_dir(spool_directory, &dir_error);
}

void spool_init(struct spool *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->limit = SPOOL_SIZE_MAX;
}

void spool_reset(struct spool *s)
{
    size_t limit = s->limit;

    free(s->mem);
    if (s->fd >= 0)
        close(s->fd);
    spool_init(s);
    s->limit = limit;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int open_file(const char **error_r)
{
    char path[4096];
    int fd;

    pthread_once(&dir_once, prepare_once);
    if (dir_status < 0) {
        *error_r = dir_error;
        return -1;
    }
    fd = open(spool_directory, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        return fd;
    /* A file system without O_TMPFILE: a name for a moment only. */
    if (snprintf(path, sizeof path, "%s/spool.XXXXXX", spool_directory) >= (int)sizeof path) {
        *error_r = "spool directory name too long";
        return -1;
    }
    if ((fd = mkostemp(path, O_CLOEXEC)) < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    (void)unlink(path);
    return fd;
}

/* The bytes outgrew memory: everything goes to a file from now on. */
static int move_to_file(struct spool *s, const char **error_r)
{
    if ((s->fd = open_file(error_r)) < 0)
        return -1;
    if (write_all(s->fd, s->mem, s->len) < 0) {
        *error_r = strerror(errno);
        return -1;
    }
    free(s->mem);
    s->mem = NULL;
    s->cap = 0;
    return 0;
}

static int grow(struct spool *s, size_t need)
{
    size_t cap = s->cap ? s->cap : 16384;
    unsigned char *m;

    while (cap < need)
        cap *= 2;
    if (cap > SPOOL_MEM_MAX)
        cap = SPOOL_MEM_MAX;
    if ((m = realloc(s->mem, cap)) == NULL)
        return -1;
    s->mem = m;
    s->cap = cap;
    return 0;
}

int spool_write(struct spool *s, const void *buf, size_t len, const char **error_r)
{
    s->seen += len;
    if (s->len + len > s->limit) {
        s->over = true;
        len = s->limit - s->len;
    }
    if (len == 0)
        return 0;
    if (s->fd < 0 && s->len + len > SPOOL_MEM_MAX && move_to_file(s, error_r) < 0)
        return -1;
    if (s->fd >= 0) {
        if (write_all(s->fd, buf, len) < 0) {
            *error_r = strerror(errno);
            return -1;
        }
    } else {
        if (s->len + len > s->cap && grow(s, s->len + len) < 0) {
            *error_r = "out of memory";
            return -1;
        }
        memcpy(s->mem + s->len, buf, len);
    }
    s->len += len;
    return 0;
}
