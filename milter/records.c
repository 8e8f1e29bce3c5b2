/*
 * records.c: write each decision record as a log line and, with
 * --records, as a JSON line; and the appending line files those JSON
 * lines (and --dmarc-history) go to, reopened on the reload signal.
 *
 * A line file gathers lines in a buffer and writes them when it is full,
 * at the latest a second after the first one waited, and before a reopen
 * or the end: one write for many records, where one write each cost the
 * benchmark 3% (sessions queued on the file's lock). A line never spans
 * two writes, so lines never interleave, and the file is opened with
 * O_APPEND, so another process may rename it away at any time.
 *
 * Must never hold up or fail a session: a line that cannot be written
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

#include "milter/dmarc_history.h"
#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/record_text.h"
#include "milter/session.h"

#define RECORDS_BUF (64 * 1024)
#define RECORDS_FLUSH_MS 1000
#define RECORDS_FILES_MAX 4

struct records_file {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool in_use;           /* a slot taken (under slots_lock) */
    int fd;                /* -1: closed; a late writer finds it so and writes nothing */
    char *path;
    const char *what;      /* "records", "dmarc-history": for the log */
    char *buf;
    size_t blen;
    bool stopping, flusher_running;
    pthread_t flusher;
    atomic_ulong lost;
};

/* The files live in slots that are never freed: a pointer to a closed one
   stays valid. records_reopen walks the open ones. */
#define SLOT_INIT { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .fd = -1 }
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static struct records_file slots[RECORDS_FILES_MAX] = { SLOT_INIT, SLOT_INIT, SLOT_INIT, SLOT_INIT };

static struct records_file *json_file;
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
static void count_lost(struct records_file *f, unsigned long n)
{
    unsigned long was = atomic_fetch_add(&f->lost, n), now = was + n;

    for (unsigned long p = 1; p <= now; p *= 10)
        if (p > was)
            log_warnx("%s: %lu line(s) could not be written to %s", f->what, now,
                      f->path != NULL ? f->path : "its file");
}

static size_t lines_in(const char *p, size_t n)
{
    size_t k = 0;

    for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
        k++;
    return k;
}

/* Write what the buffer holds. Called with the file's lock held. */
static void flush_locked(struct records_file *f)
{
    size_t done = 0;

    while (done < f->blen) {
        ssize_t n = write(f->fd, f->buf + done, f->blen - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            count_lost(f, lines_in(f->buf + done, f->blen - done));
            break;
        }
        done += (size_t)n;
    }
    f->blen = 0;
}

static void *flush_thread(void *arg)
{
    struct records_file *f = arg;

    pthread_mutex_lock(&f->lock);
    while (!f->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += RECORDS_FLUSH_MS / 1000;
        pthread_cond_timedwait(&f->wake, &f->lock, &until);
        if (f->blen > 0)
            flush_locked(f);
    }
    pthread_mutex_unlock(&f->lock);
    return NULL;
}

/* Give the slot back. Called with its lock held. */
static void slot_release(struct records_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->path);
    free(f->buf);
    f->path = f->buf = NULL;
    f->blen = 0;
    pthread_mutex_lock(&slots_lock);
    f->in_use = false;
    pthread_mutex_unlock(&slots_lock);
}

static struct records_file *slot_take(void)
{
    struct records_file *f = NULL;

    pthread_mutex_lock(&slots_lock);
    for (size_t i = 0; i < RECORDS_FILES_MAX && f == NULL; i++)
        if (!slots[i].in_use) {
            f = &slots[i];
            f->in_use = true;
        }
    pthread_mutex_unlock(&slots_lock);
    return f;
}

struct records_file *records_file_open(const char *path, const char *what)
{
    struct records_file *f = slot_take();
    int saved;

    if (f == NULL) {
        errno = EMFILE;
        return NULL;
    }
    pthread_mutex_lock(&f->lock);
    f->what = what;
    f->stopping = f->flusher_running = false;
    if ((f->path = strdup(path)) == NULL || (f->buf = malloc(RECORDS_BUF)) == NULL ||
        (f->fd = open_file(path)) < 0) {
        saved = errno;
        slot_release(f);
        pthread_mutex_unlock(&f->lock);
        errno = saved;
        return NULL;
    }
    if (pthread_create(&f->flusher, NULL, flush_thread, f) == 0)
        f->flusher_running = true; /* without it, lines wait for a full buffer or the end */
    pthread_mutex_unlock(&f->lock);
    return f;
}

static int file_reopen(struct records_file *f)
{
    int fd, rc = 0;

    pthread_mutex_lock(&f->lock);
    if (f->fd < 0) {
        pthread_mutex_unlock(&f->lock);
        return 0;
    }
    flush_locked(f); /* what came before the signal goes to the file that was moved */
    if ((fd = open_file(f->path)) < 0) {
        log_warn("%s: cannot reopen %s; still writing to the file it was", f->what, f->path);
        rc = -1;
    } else {
        close(f->fd);
        f->fd = fd;
    }
    pthread_mutex_unlock(&f->lock);
    return rc;
}

int records_reopen(void)
{
    int rc = 0;

    for (size_t i = 0; i < RECORDS_FILES_MAX; i++)
        if (file_reopen(&slots[i]) < 0)
            rc = -1;
    return rc;
}

void records_file_append(struct records_file *f, const char *line, size_t len)
{
    pthread_mutex_lock(&f->lock);
    if (f->fd < 0) { /* closed under a late writer */
        pthread_mutex_unlock(&f->lock);
        return;
    }
    if (f->blen + len > RECORDS_BUF)
        flush_locked(f);
    if (len > RECORDS_BUF) { /* larger than the buffer: on its own */
        if (write(f->fd, line, len) != (ssize_t)len)
            count_lost(f, lines_in(line, len));
    } else {
        memcpy(f->buf + f->blen, line, len);
        f->blen += len;
    }
    pthread_mutex_unlock(&f->lock);
}

void records_file_close(struct records_file *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_cond_signal(&f->wake);
    pthread_mutex_unlock(&f->lock);
    if (f->flusher_running)
        pthread_join(f->flusher, NULL);
    pthread_mutex_lock(&f->lock);
    f->flusher_running = false;
    if (f->fd >= 0)
        flush_locked(f);
    slot_release(f);
    pthread_mutex_unlock(&f->lock);
}

int records_open(const char *p)
{
    struct records_file *f = records_file_open(p, "records");

    if (f == NULL)
        return -1;
    records_file_close(json_file); /* opened twice: the new one serves */
    json_file = f;
    atomic_store(&json_on, true);
    return 0;
}

void records_close(void)
{
    atomic_store(&json_on, false);
    records_file_close(json_file);
    json_file = NULL;
}

static void write_json(const struct record *r, const struct record_ids *ids)
{
    char *line;
    size_t len;

    if (!atomic_load_explicit(&json_on, memory_order_relaxed))
        return;
    if ((line = record_json_line(r, ids)) == NULL) {
        count_lost(json_file, 1);
        return;
    }
    len = strlen(line);
    line[len] = '\n'; /* over the NUL: the line is written with its length */
    records_file_append(json_file, line, len + 1);
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
    dmarc_history_note(s, r);
}
