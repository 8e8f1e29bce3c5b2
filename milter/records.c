/*
 * records.c: write each decision record as a log line and, with
 * --records, as a JSON line; reopen the JSON file on the reload signal.
 *
 * Must never hold up or fail a session: a record that cannot be written
 * is counted and said once in a while, the mail goes on.
 */
#include "milter/records.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/record_text.h"
#include "milter/session.h"

/* Writers share the descriptor (a read lock); a reopen swaps it (the write lock). */
static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static int fd = -1;
static char *path;
static atomic_ulong lost;
static bool log_records = true;

void records_set_log(bool on)
{
    log_records = on;
}

static int open_file(const char *p)
{
    return open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

int records_open(const char *p)
{
    int f = open_file(p);

    if (f < 0)
        return -1;
    pthread_rwlock_wrlock(&lock);
    free(path);
    path = strdup(p);
    if (fd >= 0)
        close(fd);
    fd = f;
    pthread_rwlock_unlock(&lock);
    return 0;
}

int records_reopen(void)
{
    int f, saved;

    pthread_rwlock_wrlock(&lock);
    if (path == NULL) {
        pthread_rwlock_unlock(&lock);
        return 0;
    }
    if ((f = open_file(path)) < 0) {
        saved = errno;
        pthread_rwlock_unlock(&lock);
        errno = saved;
        log_warn("records: cannot reopen %s; still writing to the file it was", path);
        return -1;
    }
    close(fd);
    fd = f;
    pthread_rwlock_unlock(&lock);
    return 0;
}

void records_close(void)
{
    pthread_rwlock_wrlock(&lock);
    if (fd >= 0)
        close(fd);
    fd = -1;
    free(path);
    path = NULL;
    pthread_rwlock_unlock(&lock);
}

/* One write per record: with O_APPEND, lines from many threads never interleave. */
static void write_json(const struct record *r, const struct record_ids *ids)
{
    char *line;
    struct iovec iov[2];
    ssize_t n;
    size_t len;

    pthread_rwlock_rdlock(&lock);
    if (fd < 0) {
        pthread_rwlock_unlock(&lock);
        return;
    }
    if ((line = record_json_line(r, ids)) == NULL) {
        pthread_rwlock_unlock(&lock);
        atomic_fetch_add(&lost, 1);
        return;
    }
    len = strlen(line);
    iov[0] = (struct iovec){ line, len };
    iov[1] = (struct iovec){ "\n", 1 };
    n = writev(fd, iov, 2);
    pthread_rwlock_unlock(&lock);
    free(line);
    if (n != (ssize_t)len + 1) {
        unsigned long k = atomic_fetch_add(&lost, 1) + 1;
        /* The 1st, 10th, 100th ... so a full disk does not flood the log too. */
        for (unsigned long p = 1; p <= k; p *= 10)
            if (p == k)
                log_warnx("records: %lu record(s) could not be written to %s", k, path ? path : "-");
    }
}

void records_write(void *ctx, const struct record *r)
{
    const struct session *s = ctx;
    struct record_ids ids = { s->id, s->qid_raw };
    char line[RECORD_LINE_MAX];

    metrics_note_record(r);
    if (log_records)
        log_info_line(record_log_line(r, &ids, line, sizeof line));
    write_json(r, &ids);
}
