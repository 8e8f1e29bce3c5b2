/*
 * records.c: write each decision record as a log line and, with
 * --records, as a JSON line; reopen the JSON file on the reload signal.
 *
 * JSON lines are gathered in a buffer and written when it is full, at the
 * latest a second after the first one waited, and before a reopen or the
 * end: one write for many records, where one write each cost the
 * benchmark 3% (sessions queued on the file's lock). A record never
 * spans two writes, so lines never interleave.
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
#include <time.h>
#include <unistd.h>

#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/record_text.h"
#include "milter/session.h"

#define RECORDS_BUF (64 * 1024)
#define RECORDS_FLUSH_MS 1000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static int fd = -1;
static char *path;
static char *buf;
static size_t blen;
static bool stopping, flusher_running;
static pthread_t flusher;
static atomic_ulong lost;
static atomic_bool json_on;  /* --records is open: only then is JSON built */
static bool log_records = true;

void records_set_log(bool on)
{
    log_records = on;
}

static int open_file(const char *p)
{
    return open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
}

/* The 1st, 10th, 100th ... so a full disk does not flood the log too. */
static void count_lost(unsigned long n)
{
    unsigned long was = atomic_fetch_add(&lost, n), now = was + n;

    for (unsigned long p = 1; p <= now; p *= 10)
        if (p > was)
            log_warnx("records: %lu record(s) could not be written to %s", now, path ? path : "-");
}

static size_t lines_in(const char *p, size_t n)
{
    size_t k = 0;

    for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        k++;
    return k;
}

/* Write what the buffer holds. Called with the lock held. */
static void flush_locked(void)
{
    size_t done = 0;

    while (done < blen) {
        ssize_t n = write(fd, buf + done, blen - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            count_lost(lines_in(buf + done, blen - done));
            break;
        }
        done += (size_t)n;
    }
    blen = 0;
}

static void *flush_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += RECORDS_FLUSH_MS / 1000;
        pthread_cond_timedwait(&wake, &lock, &until);
        if (blen > 0 && fd >= 0)
            flush_locked();
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int records_open(const char *p)
{
    int f = open_file(p), saved;

    if (f < 0)
        return -1;
    pthread_mutex_lock(&lock);
    if (buf == NULL && (buf = malloc(RECORDS_BUF)) == NULL) {
        saved = errno;
        pthread_mutex_unlock(&lock);
        close(f);
        errno = saved;
        return -1;
    }
    free(path);
    path = strdup(p);
    fd = f;
    atomic_store(&json_on, true);
    stopping = false;
    if (!flusher_running && pthread_create(&flusher, NULL, flush_thread, NULL) == 0)
        flusher_running = true;
    pthread_mutex_unlock(&lock);
    return 0;
}

int records_reopen(void)
{
    int f;

    pthread_mutex_lock(&lock);
    if (path == NULL) {
        pthread_mutex_unlock(&lock);
        return 0;
    }
    flush_locked(); /* what came before the signal goes to the file logrotate moved */
    if ((f = open_file(path)) < 0) {
        log_warn("records: cannot reopen %s; still writing to the file it was", path);
        pthread_mutex_unlock(&lock);
        return -1;
    }
    close(fd);
    fd = f;
    pthread_mutex_unlock(&lock);
    return 0;
}

void records_close(void)
{
    atomic_store(&json_on, false);
    pthread_mutex_lock(&lock);
    stopping = true;
    pthread_cond_signal(&wake);
    pthread_mutex_unlock(&lock);
    if (flusher_running)
        pthread_join(flusher, NULL);
    flusher_running = false;
    pthread_mutex_lock(&lock);
    if (fd >= 0) {
        flush_locked();
        close(fd);
    }
    fd = -1;
    free(path);
    free(buf);
    path = buf = NULL;
    pthread_mutex_unlock(&lock);
}

static void write_json(const struct record *r, const struct record_ids *ids)
{
    char *line;
    size_t len;

    if (!atomic_load_explicit(&json_on, memory_order_relaxed))
        return;
    if ((line = record_json_line(r, ids)) == NULL) {
        count_lost(1);
        return;
    }
    len = strlen(line);
    line[len] = '\n'; /* over the NUL: the line is written with its length */
    pthread_mutex_lock(&lock);
    if (fd >= 0) {
        if (blen + len + 1 > RECORDS_BUF)
            flush_locked();
        if (len + 1 > RECORDS_BUF) { /* larger than the buffer: on its own */
            if (write(fd, line, len + 1) != (ssize_t)(len + 1))
                count_lost(1);
        } else {
            memcpy(buf + blen, line, len + 1);
            blen += len + 1;
        }
    }
    pthread_mutex_unlock(&lock);
    free(line);
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
