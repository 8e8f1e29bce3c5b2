/*
 * filetype.c: libmagic behind a small, thread-safe call.
 *
 * Must never load the magic database after start-up (a chrooted filter
 * cannot see it then), never let libmagic decompress or follow anything
 * (MAGIC_NO_CHECK_COMPRESS: only the bytes given are typed), and never
 * hand libmagic more than FILETYPE_BYTES_MAX bytes.
 *
 * One magic_t for the process behind a mutex, not one per thread:
 * libmagic's handle is not thread-safe, a loaded database is several
 * megabytes per handle, libmilter's worker threads come and go (a
 * per-thread handle would be loaded anew in each, after the chroot, where
 * the database is not), and typing one buffer takes microseconds, so
 * the lock is held only briefly.
 */
#include "policy/content/filetype.h"

#include <magic.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t filetype_lock = PTHREAD_MUTEX_INITIALIZER;
static magic_t filetype_magic;
static const char *filetype_last_error = "filetype: not initialised";
static char filetype_load_error[256];

/* Only the MIME type, without parameters; no look inside compressed data. */
#define FILETYPE_FLAGS (MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR)

int filetype_init(void)
{
    magic_t m;
    int rc = 0;

    pthread_mutex_lock(&filetype_lock);
    if (filetype_magic != NULL)
        goto out;
    if ((m = magic_open(FILETYPE_FLAGS)) == NULL) {
        filetype_last_error = "filetype: magic_open failed (out of memory)";
        rc = -1;
        goto out;
    }
    if (magic_load(m, NULL) != 0) {
        snprintf(filetype_load_error, sizeof filetype_load_error,
                 "filetype: cannot load the magic database: %s", magic_error(m) ? magic_error(m) : "unknown error");
        filetype_last_error = filetype_load_error;
        magic_close(m);
        rc = -1;
        goto out;
    }
    filetype_magic = m;
out:
    pthread_mutex_unlock(&filetype_lock);
    return rc;
}

/*
 * libmagic calls a DOS program application/x-dosexec: an MZ header, but
 * also data that merely starts with a jump instruction (its "DOS
 * executable (COM)" guess, one random binary file in about 300) or a
 * device driver's header. Those guesses get a type of their own, so that
 * a list of executable types refuses real programs, not arbitrary binary
 * data; .COM programs do not run on 64-bit Windows anyway.
 */
static const char *refine(const char *type, const unsigned char *buf, size_t len)
{
    if (strcmp(type, "application/x-dosexec") != 0)
        return type;
    if (len >= 2 && ((buf[0] == 'M' && buf[1] == 'Z') || (buf[0] == 'Z' && buf[1] == 'M')))
        return type;
    return FILETYPE_DOS_GUESS;
}

int filetype_detect(const void *buf, size_t len, char *out, size_t outsz)
{
    const char *type;
    size_t n;
    int rc = -1;

    if (outsz > 0)
        out[0] = '\0';
    if (len > FILETYPE_BYTES_MAX)
        len = FILETYPE_BYTES_MAX;
    pthread_mutex_lock(&filetype_lock);
    if (filetype_magic == NULL) {
        filetype_last_error = "filetype: not initialised";
        goto out;
    }
    /* libmagic types an empty buffer as application/x-empty; it wants a pointer. */
    type = magic_buffer(filetype_magic, len > 0 ? buf : "", len);
    if (type == NULL) {
        filetype_last_error = "filetype: libmagic could not type the bytes";
        goto out;
    }
    type = refine(type, buf, len);
    n = strlen(type);
    if (n >= outsz) {
        filetype_last_error = "filetype: the type is longer than the caller's buffer";
        goto out;
    }
    memcpy(out, type, n + 1);
    rc = 0;
out:
    pthread_mutex_unlock(&filetype_lock);
    return rc;
}

const char *filetype_error(void)
{
    const char *e;

    pthread_mutex_lock(&filetype_lock);
    e = filetype_last_error;
    pthread_mutex_unlock(&filetype_lock);
    return e;
}

void filetype_deinit(void)
{
    pthread_mutex_lock(&filetype_lock);
    if (filetype_magic != NULL)
        magic_close(filetype_magic);
    filetype_magic = NULL;
    filetype_last_error = "filetype: not initialised";
    pthread_mutex_unlock(&filetype_lock);
}
