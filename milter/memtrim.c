/*
 * memtrim.c: every MEMTRIM_SECONDS, the heap's free pages go back to the
 * system.
 *
 * glibc's malloc gives each thread that allocates at the same time as
 * another an arena of its own (up to eight a core) and returns memory to
 * the system only from the top of an arena. A session thread's MIME parse,
 * DNS batches and connection object are freed when the session ends, but
 * the pages they leave inside the arenas stay in RSS; under load the next
 * peak lands elsewhere, and RSS creeps up. The soak (tests/bench/soak.sh)
 * measured 7 kB per 1,000 messages over 30 minutes while heaptrack showed
 * the heap in use bounded (22 MB at its peak, nothing leaked): an admin
 * reading RSS would see a leak that is not there, and the memory is lost
 * to the host all the same.
 *
 * malloc_trim(0) walks every arena and releases each whole free page
 * (MADV_DONTNEED), not only the top. It holds one arena's lock at a time
 * while it walks it: a session allocating in that arena waits for one walk.
 */
#include "milter/memtrim.h"

#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

static void *trim_loop(void *arg)
{
    (void)arg;
    for (;;) {
        sleep(MEMTRIM_SECONDS);
        malloc_trim(0);
    }
    return NULL;
}

int memtrim_start(void)
{
    pthread_attr_t attr;
    pthread_t t;
    int rc;

    if (pthread_attr_init(&attr) != 0)
        return -1;
    /* A small stack: it calls one function. */
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, trim_loop, NULL);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}
