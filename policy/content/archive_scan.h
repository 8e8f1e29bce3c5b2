/*
 * archive_scan.h: the member names of an archive attachment, one level
 * deep, through libarchive: zip, 7z, tar (plain or compressed), rar (v4
 * and v5: Debian's libarchive reads their headers) and gz (one member).
 *
 * Only headers are read: nothing is extracted, to disk or to memory, and
 * member data is skipped without being decompressed where the format
 * allows it (zip: the central directory; gz: the first header only).
 * Where skipping a member means decompressing it (a compressed tar, a
 * solid 7z block), the sizes the headers declare are added up first and
 * an archive past ARCHIVE_SCAN_INFLATE_MAX is a limit, never inflated.
 */
#ifndef MXG_POLICY_ARCHIVE_SCAN_H
#define MXG_POLICY_ARCHIVE_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* A member name longer than this reaches the callback as its last
   ARCHIVE_SCAN_NAME_MAX bytes, so its extension is kept. */
#define ARCHIVE_SCAN_NAME_MAX 1024

/* Declared bytes a scan may decompress to skip members (see above). */
#define ARCHIVE_SCAN_INFLATE_MAX (64UL * 1024 * 1024)

enum archive_scan_result {
    ARCHIVE_SCAN_OK,          /* every member was handed to the callback (or it stopped the scan) */
    ARCHIVE_SCAN_NOT_ARCHIVE, /* no format libarchive reads */
    ARCHIVE_SCAN_ERROR,       /* an archive, but broken or truncated: the members before it were handed over */
    ARCHIVE_SCAN_LIMIT        /* more than max_members, or past ARCHIVE_SCAN_INFLATE_MAX */
};

/*
 * One member: its name (not NUL-terminated; namelen bytes, at most
 * ARCHIVE_SCAN_NAME_MAX, from the archive: untrusted bytes) and whether it
 * is encrypted. A gz without a stored name, and an archive whose headers
 * are themselves encrypted (7z -mhe), give one member with namelen 0 (the
 * caller names it after the attachment). Returns 0 to go on, non-zero to
 * stop (the scan then returns ARCHIVE_SCAN_OK).
 */
typedef int archive_member_fn(void *arg, const char *name, size_t namelen, bool encrypted);

enum archive_scan_result archive_scan_mem(const void *buf, size_t len, unsigned max_members,
                                          archive_member_fn *fn, void *arg);

/* The same from a file descriptor (read from its current offset; seekable
   files let zip be read from its central directory). fd stays open. */
enum archive_scan_result archive_scan_fd(int fd, unsigned max_members, archive_member_fn *fn, void *arg);

#endif
