/*
 * poison.c: the poison-message guard's shared tables (see poison.h): the
 * filter's sessions publish what they are working on, the supervisor
 * charges a crash to it, and the filter holds a message charged at
 * --poison-crashes crashes.
 *
 * Must never let a crash at any instruction leave a slot that reads as a
 * valid digest it was not (a slot is marked not valid, written, then
 * marked valid, each mark an atomic release store), never block the
 * filter (no lock across processes: the supervisor writes the suspects
 * only while no filter runs), and never grow: both tables are fixed at
 * start.
 */
#include "milter/poison.h"

#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "milter/log.h"
#include "milter/logfmt.h"

enum slot_state { SLOT_FREE, SLOT_CLAIMED, SLOT_IDLE, SLOT_BUSY };

/* A session's message: valid in IDLE and BUSY only. */
struct slot {
    atomic_uint state;
    unsigned char digest[POISON_DIGEST_LEN];
    char qid[POISON_QID_MAX];
};

/* A digest the filter was working on at count crashes. count 0: unused. */
struct suspect {
    unsigned char digest[POISON_DIGEST_LEN];
    unsigned count;
    unsigned crash;                    /* the crash that charged it last (once per crash) */
    atomic_llong last;                 /* last charged or held */
    char qid[POISON_QID_MAX];          /* the queue id at its last crash */
};

struct region {
    unsigned nslots, nsuspects, threshold;
    unsigned used;                     /* suspects with count > 0 (the filter's fast path) */
    unsigned crashes;                  /* crashes charged so far */
    atomic_uint next;                  /* where the next slot search starts */
    size_t size;
    struct slot *slots;                /* point into this same mapping: valid in every process */
    struct suspect *suspects;
};

static struct region *region;

/* The most charged digests logged one by one at a crash; the rest counted. */
#define LOG_CHARGED_MAX 8

int poison_init(unsigned nslots, unsigned nsuspects, unsigned crashes, const char **error_r)
{
    size_t size = sizeof *region + (size_t)nslots * sizeof(struct slot) +
                  (size_t)nsuspects * sizeof(struct suspect);
    void *mem;

    if (nslots == 0 || nsuspects == 0 || crashes == 0) {
        *error_r = "empty poison-guard tables";
        return -1;
    }
    mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        *error_r = "cannot map the poison guard's shared memory";
        return -1;
    }
    poison_shutdown();
    region = mem; /* zero-filled: every slot free, every suspect unused */
    region->nslots = nslots;
    region->nsuspects = nsuspects;
    region->threshold = crashes;
    region->size = size;
    region->slots = (struct slot *)(region + 1);
    region->suspects = (struct suspect *)(region->slots + nslots);
    return 0;
}

void poison_shutdown(void)
{
    if (region != NULL)
        munmap(region, region->size);
    region = NULL;
}

/* ---- the filter's side ------------------------------------------------------ */

static struct slot *slot_of(const struct poison_msg *m)
{
    return region != NULL && m->slot != 0 ? &region->slots[m->slot - 1] : NULL;
}

static unsigned slot_claim(void)
{
    unsigned n = region->nslots, start = atomic_fetch_add(&region->next, 1) % n;

    for (unsigned i = 0; i < n; i++) {
        unsigned k = (start + i) % n, expect = SLOT_FREE;
        if (atomic_compare_exchange_strong(&region->slots[k].state, &expect, SLOT_CLAIMED))
            return k + 1;
    }
    return 0; /* full: this session is not tracked */
}

void poison_msg_begin(struct poison_msg *m)
{
    poison_msg_end(m);
}

/* The first item of a message (MAIL FROM, or whatever the MTA sends first when it skips MAIL). */
static void msg_start(struct poison_msg *m)
{
    if (m->slot == 0)
        m->slot = slot_claim();
    memset(m->digest, 0, sizeof m->digest);
    m->started = true;
}

/* digest = SHA-256(digest || tag || length || data): each step's digest names the message so far. */
void poison_msg_fold(struct poison_msg *m, char tag, const char *data, size_t len)
{
    unsigned char head[9];
    EVP_MD_CTX *c;
    unsigned out = 0;
    int ok;

    if (region == NULL || m->held)
        return;
    if (!m->started)
        msg_start(m);
    head[0] = (unsigned char)tag;
    for (int i = 0; i < 8; i++)
        head[1 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    if ((c = EVP_MD_CTX_new()) == NULL) {
        m->started = false; /* cannot digest it: not tracked */
        return;
    }
    ok = EVP_DigestInit_ex(c, EVP_sha256(), NULL) && EVP_DigestUpdate(c, m->digest, sizeof m->digest) &&
         EVP_DigestUpdate(c, head, sizeof head) && (len == 0 || EVP_DigestUpdate(c, data, len)) &&
         EVP_DigestFinal_ex(c, m->digest, &out) && out == POISON_DIGEST_LEN;
    EVP_MD_CTX_free(c);
    if (!ok)
        m->started = false;
}

static struct suspect *suspect_find(const unsigned char *digest, time_t now)
{
    for (unsigned i = 0; i < region->nsuspects; i++) {
        struct suspect *e = &region->suspects[i];
        if (e->count > 0 && memcmp(e->digest, digest, POISON_DIGEST_LEN) == 0)
            return now - (time_t)atomic_load(&e->last) < POISON_TTL ? e : NULL;
    }
    return NULL;
}

unsigned poison_crashes(const unsigned char *digest, time_t now)
{
    const struct suspect *e;

    if (region == NULL || region->used == 0)
        return 0;
    e = suspect_find(digest, now);
    return e != NULL ? e->count : 0;
}

unsigned poison_msg_enter(struct poison_msg *m, const char *qid, time_t now)
{
    struct slot *sl = slot_of(m);

    if (region == NULL || !m->started || m->held)
        return 0;
    if (region->used > 0) {
        struct suspect *e = suspect_find(m->digest, now);
        if (e != NULL && e->count >= region->threshold) {
            m->held = true;
            atomic_store(&e->last, (long long)now); /* remembered while it keeps coming back */
            if (sl != NULL)
                atomic_store_explicit(&sl->state, SLOT_CLAIMED, memory_order_release);
            return e->count;
        }
    }
    if (sl == NULL)
        return 0;
    atomic_store_explicit(&sl->state, SLOT_CLAIMED, memory_order_release);
    memcpy(sl->digest, m->digest, sizeof sl->digest);
    snprintf(sl->qid, sizeof sl->qid, "%s", qid != NULL ? qid : "");
    atomic_store_explicit(&sl->state, SLOT_BUSY, memory_order_release);
    return 0;
}

void poison_msg_leave(struct poison_msg *m)
{
    struct slot *sl = slot_of(m);
    unsigned busy = SLOT_BUSY;

    if (sl != NULL)
        atomic_compare_exchange_strong(&sl->state, &busy, SLOT_IDLE);
}

void poison_msg_end(struct poison_msg *m)
{
    struct slot *sl = slot_of(m);

    if (sl != NULL)
        atomic_store_explicit(&sl->state, SLOT_CLAIMED, memory_order_release);
    m->started = false;
    m->held = false;
}

void poison_msg_release(struct poison_msg *m)
{
    struct slot *sl = slot_of(m);

    if (sl != NULL)
        atomic_store_explicit(&sl->state, SLOT_FREE, memory_order_release);
    m->slot = 0;
    m->started = false;
}

void poison_hex(const unsigned char *digest, char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (int i = 0; i < POISON_HEX_LEN / 2; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[POISON_HEX_LEN] = '\0';
}

/* ---- the supervisor's side -------------------------------------------------- */

/* The entry for digest: its own, else an unused or expired one, else the least recently charged. */
static struct suspect *suspect_entry(const unsigned char *digest, time_t now)
{
    struct suspect *spare = NULL, *oldest = NULL;

    for (unsigned i = 0; i < region->nsuspects; i++) {
        struct suspect *e = &region->suspects[i];
        bool expired = e->count == 0 || now - (time_t)atomic_load(&e->last) >= POISON_TTL;
        if (e->count > 0 && memcmp(e->digest, digest, POISON_DIGEST_LEN) == 0) {
            if (expired)
                e->count = 0; /* forgotten: counts afresh */
            return e;
        }
        if (expired && spare == NULL)
            spare = e;
        if (oldest == NULL || atomic_load(&e->last) < atomic_load(&oldest->last))
            oldest = e;
    }
    spare = spare != NULL ? spare : oldest;
    if (spare->count == 0)
        region->used++;
    memcpy(spare->digest, digest, POISON_DIGEST_LEN);
    spare->count = 0;
    return spare;
}

/* One crash to the slot's digest, once however many slots hold it. Returns 1 if charged now. */
static unsigned charge(const struct slot *sl, time_t now, unsigned nth)
{
    struct suspect *e = suspect_entry(sl->digest, now);
    char hex[POISON_HEX_LEN + 1], qid[POISON_QID_MAX], qtext[LOGFMT_BUF];

    if (e->count > 0 && e->crash == region->crashes)
        return 0;
    e->crash = region->crashes;
    e->count++;
    atomic_store(&e->last, (long long)now);
    memcpy(qid, sl->qid, sizeof qid);
    qid[sizeof qid - 1] = '\0'; /* written by a process that crashed: bounded here */
    memcpy(e->qid, qid, sizeof e->qid);
    if (nth > LOG_CHARGED_MAX)
        return 1;
    poison_hex(sl->digest, hex);
    log_errx("poison guard: qid=%s digest=%s crashes=%u: the filter died while working on this message%s",
             qid[0] ? logfmt_str(qid, qtext, sizeof qtext) : "-", hex, e->count,
             e->count >= region->threshold ? "; it is held (451 4.3.0) from now on" : "");
    return 1;
}

unsigned poison_charge_crash(time_t now)
{
    unsigned charged = 0;

    if (region == NULL)
        return 0;
    region->crashes++;
    for (unsigned i = 0; i < region->nslots; i++) {
        struct slot *sl = &region->slots[i];
        if (atomic_load_explicit(&sl->state, memory_order_acquire) == SLOT_BUSY)
            charged += charge(sl, now, charged + 1);
        atomic_store(&sl->state, SLOT_FREE);
    }
    if (charged > LOG_CHARGED_MAX)
        log_errx("poison guard: %u more messages were charged with this crash", charged - LOG_CHARGED_MAX);
    return charged;
}

void poison_clear_slots(void)
{
    if (region == NULL)
        return;
    for (unsigned i = 0; i < region->nslots; i++)
        atomic_store(&region->slots[i].state, SLOT_FREE);
}
