/*
 * filetype.h: the type of a byte string as libmagic sees it ("application/
 * x-dosexec", "application/pdf", ...), for attachments whose declared type
 * or name may lie.
 *
 * filetype_init loads the magic database once, at start-up and before any
 * chroot (the database file is outside it). filetype_detect may then be
 * called from any thread: one shared libmagic handle behind a mutex (see
 * filetype.c for why not one handle per thread).
 */
#ifndef MXG_POLICY_FILETYPE_H
#define MXG_POLICY_FILETYPE_H

#include <stddef.h>

/* The bytes filetype_detect looks at; more are ignored (libmagic's own
   default window is a megabyte, and every test it runs is near the start). */
#define FILETYPE_BYTES_MAX (1024 * 1024)

/* The longest type filetype_detect writes, with its NUL. */
#define FILETYPE_TYPE_MAX 128

/* What libmagic calls application/x-dosexec without an MZ header: its
   guess that data starting with a jump instruction is a DOS .COM program. */
#define FILETYPE_DOS_GUESS "application/x-dosexec-guess"

/* 0, or -1 with a message (filetype_error). A second call does nothing. */
int filetype_init(void);

/*
 * The MIME type of buf into out (NUL-terminated; outsz of FILETYPE_TYPE_MAX
 * is always enough): 0, or -1 with a message (filetype_error) when not
 * initialised, libmagic failed, or the type does not fit.
 */
int filetype_detect(const void *buf, size_t len, char *out, size_t outsz);

/* The last failure's message (static text; the last one of any thread). */
const char *filetype_error(void);

/* Close the database (tests; the daemon keeps it for its life). */
void filetype_deinit(void);

#endif
