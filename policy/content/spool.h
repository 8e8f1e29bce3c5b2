/*
 * spool.h: a message's bytes kept for the content checks, with a bound.
 *
 * The first SPOOL_MEM_MAX bytes stay in memory; a longer message moves to
 * an unlinked temporary file in a private directory of the run user (the
 * --spool-dir), so a 50 MB message costs a file, not 50 MB of memory.
 * Past the size limit nothing more is kept and the spool says so. An
 * unlinked file has no name: it disappears when its descriptor closes,
 * also when the process crashes.
 */
#ifndef MXG_POLICY_SPOOL_H
#define MXG_POLICY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

/* 256 KiB: nearly all text and HTML mail fits without touching the disk,
   and 200 concurrent messages cost at most 50 MB between them. */
#define SPOOL_MEM_MAX (256u * 1024u)
/* The most that is kept of one message: above the usual MTA limits
   (postfix's default is 10 MB, large providers take 25 to 50 MB). */
#define SPOOL_SIZE_MAX (64ul * 1024ul * 1024ul)
#define SPOOL_DEFAULT_DIR "/var/lib/mxguard/spool"

struct spool {
    unsigned char *mem;   /* the bytes while they fit in memory */
    size_t len, cap;      /* bytes kept (in mem or in the file) */
    int fd;               /* -1 until the bytes move to a file */
    size_t seen;          /* bytes offered, kept or not */
    size_t limit;         /* SPOOL_SIZE_MAX unless a test says less */
    bool over;            /* more than limit was offered: the rest was dropped */
};

/* The directory for spool files (the --spool-dir); NULL: the default.
   Read once, before the first message; the string must outlive the process. */
void spool_set_dir(const char *dir);
const char *spool_dir(void);

void spool_init(struct spool *s);
/* Keep len more bytes: 0, or -1 with *error_r (the file could not be
   made or written: the message is tempfailed). Past the limit: 0, over. */
int spool_write(struct spool *s, const void *buf, size_t len, const char **error_r);
/* Forget the message: memory freed, file closed (and so gone). */
void spool_reset(struct spool *s);

/*
 * Create the directory (0700, the run user's) if missing and remove what
 * a process using named files could have left (spool.* files). 0 or -1.
 */
int spool_prepare_dir(const char *dir, const char **error_r);

#endif
