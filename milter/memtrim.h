/*
 * memtrim.h: the filter's heap given back to the system while it runs.
 */
#ifndef MXG_MILTER_MEMTRIM_H
#define MXG_MILTER_MEMTRIM_H

#define MEMTRIM_SECONDS 30

/*
 * Start a thread that, every MEMTRIM_SECONDS, returns the heap's whole
 * free pages to the system (malloc_trim). 0, or -1 (no thread: the filter
 * runs on, its RSS only slower to fall after a peak).
 */
int memtrim_start(void);

#endif
