/*
 * archive_scan.c: member names of an archive through libarchive.
 *
 * Must never extract or write anything, never decompress a member's data
 * beyond ARCHIVE_SCAN_INFLATE_MAX declared bytes, and never hand the
 * callback more than max_members names or a name longer than
 * ARCHIVE_SCAN_NAME_MAX.
 */
#include "policy/content/archive_scan.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A zip ends with its end-of-central-directory record, within this many bytes. */
#define ZIP_TAIL_MAX (22 + 65535)

/* Formats and filters that are read; raw only to see a lone .gz/.bz2/.xz. */
static struct archive *archive_scan_open(void)
{
    struct archive *a = archive_read_new();

    if (a == NULL)
        return NULL;
    if (archive_read_support_format_zip(a) != ARCHIVE_OK || archive_read_support_format_7zip(a) != ARCHIVE_OK ||
        archive_read_support_format_tar(a) != ARCHIVE_OK || archive_read_support_format_rar(a) != ARCHIVE_OK ||
        archive_read_support_format_rar5(a) != ARCHIVE_OK || archive_read_support_format_raw(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK || archive_read_support_filter_bzip2(a) < ARCHIVE_WARN ||
        archive_read_support_filter_xz(a) < ARCHIVE_WARN) {
        archive_read_free(a);
        return NULL;
    }
    return a;
}

/* The name a gzip header stores (RFC 1952 FNAME), or none (*len 0). */
static const char *gzip_stored_name(const unsigned char *p, size_t len, size_t *namelen)
{
    size_t off = 10;

    *namelen = 0;
    if (len < 10 || p[0] != 0x1f || p[1] != 0x8b || p[2] != 8)
        return "";
    if (p[3] & 0x04) { /* FEXTRA: two bytes of length, then that many */
        if (len < 12)
            return "";
        off = 12 + (size_t)(p[10] | p[11] << 8);
    }
    if (!(p[3] & 0x08) || off >= len)
        return "";
    for (size_t i = off; i < len; i++)
        if (p[i] == '\0') {
            *namelen = i - off;
            return (const char *)p + off;
        }
    return "";
}

/*
 * libarchive's streaming zip reader lists the members of a zip cut short
 * and ends as if it were whole; a zip without its end-of-central-directory
 * record is truncated (and unreadable to a mail client's unzip).
 */
static bool zip_has_end(const unsigned char *tail, size_t len)
{
    for (size_t i = len >= 22 ? len - 22 + 1 : 0; i-- > 0;)
        if (memcmp(tail + i, "PK\x05\x06", 4) == 0)
            return true;
    return false;
}

static bool is_zip(struct archive *a)
{
    return (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_ZIP;
}

static bool fd_zip_has_end(int fd, off_t start)
{
    struct stat st;
    unsigned char *tail;
    size_t n;
    ssize_t got;
    bool ok;

    if (start < 0 || fstat(fd, &st) < 0 || st.st_size <= start)
        return false;
    n = (size_t)(st.st_size - start) < ZIP_TAIL_MAX ? (size_t)(st.st_size - start) : ZIP_TAIL_MAX;
    if ((tail = malloc(n)) == NULL)
        return false;
    got = pread(fd, tail, n, st.st_size - (off_t)n);
    ok = got == (ssize_t)n && zip_has_end(tail, n);
    free(tail);
    return ok;
}

static int hand_over(archive_member_fn *fn, void *arg, const char *name, size_t len, bool encrypted)
{
    if (len > ARCHIVE_SCAN_NAME_MAX) {
        name += len - ARCHIVE_SCAN_NAME_MAX;
        len = ARCHIVE_SCAN_NAME_MAX;
    }
    return fn(arg, name, len, encrypted);
}

static const char *entry_name(struct archive_entry *e)
{
    const char *name = archive_entry_pathname_utf8(e);

    if (name == NULL)
        name = archive_entry_pathname(e);
    return name != NULL ? name : "";
}

/* A lone compressed file (raw format behind a filter): one member. */
static enum archive_scan_result scan_single(struct archive *a, const void *head, size_t headlen,
                                            archive_member_fn *fn, void *arg)
{
    size_t n = 0;
    const char *name = "";

    if (archive_filter_code(a, 0) == ARCHIVE_FILTER_NONE)
        return ARCHIVE_SCAN_NOT_ARCHIVE; /* raw data without a filter: not an archive */
    if (archive_filter_code(a, 0) == ARCHIVE_FILTER_GZIP && head != NULL)
        name = gzip_stored_name(head, headlen, &n);
    hand_over(fn, arg, name, n, false);
    return ARCHIVE_SCAN_OK;
}

/* Skipping this member costs decompressing it: count its declared size. */
static bool skip_inflates(struct archive *a)
{
    int fmt = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;

    return fmt != ARCHIVE_FORMAT_ZIP && (fmt == ARCHIVE_FORMAT_7ZIP || archive_filter_count(a) > 1);
}

static enum archive_scan_result scan_entries(struct archive *a, const void *head, size_t headlen,
                                             unsigned max_members, archive_member_fn *fn, void *arg)
{
    struct archive_entry *e;
    unsigned long long inflated = 0;
    unsigned members = 0;
    int rc;

    while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
        const char *name;
        if (members == 0 && (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) == ARCHIVE_FORMAT_RAW)
            return scan_single(a, head, headlen, fn, arg);
        if (members++ == max_members)
            return ARCHIVE_SCAN_LIMIT;
        name = entry_name(e);
        if (hand_over(fn, arg, name, strlen(name), archive_entry_is_encrypted(e) != 0) != 0)
            return ARCHIVE_SCAN_OK;
        if (skip_inflates(a) && archive_entry_size_is_set(e) && archive_entry_size(e) > 0) {
            inflated += (unsigned long long)archive_entry_size(e);
            if (inflated > ARCHIVE_SCAN_INFLATE_MAX)
                return ARCHIVE_SCAN_LIMIT;
        }
        if (archive_read_data_skip(a) != ARCHIVE_OK)
            return ARCHIVE_SCAN_ERROR;
    }
    if (rc == ARCHIVE_EOF)
        return ARCHIVE_SCAN_OK;
    if (members == 0 && archive_format(a) == 0)
        return ARCHIVE_SCAN_NOT_ARCHIVE; /* no format recognised the bytes */
    if (members == 0 && archive_read_has_encrypted_entries(a) > 0) {
        hand_over(fn, arg, "", 0, true); /* headers encrypted too: one nameless, encrypted member */
        return ARCHIVE_SCAN_OK;
    }
    return ARCHIVE_SCAN_ERROR;
}

enum archive_scan_result archive_scan_mem(const void *buf, size_t len, unsigned max_members,
                                          archive_member_fn *fn, void *arg)
{
    struct archive *a = archive_scan_open();
    enum archive_scan_result r;

    if (a == NULL)
        return ARCHIVE_SCAN_ERROR;
    if (len == 0) {
        archive_read_free(a);
        return ARCHIVE_SCAN_NOT_ARCHIVE;
    }
    if (archive_read_open_memory(a, buf, len) != ARCHIVE_OK)
        r = archive_format(a) == 0 ? ARCHIVE_SCAN_NOT_ARCHIVE : ARCHIVE_SCAN_ERROR;
    else
        r = scan_entries(a, buf, len, max_members, fn, arg);
    if (r == ARCHIVE_SCAN_OK && is_zip(a) &&
        !zip_has_end((const unsigned char *)buf + (len > ZIP_TAIL_MAX ? len - ZIP_TAIL_MAX : 0),
                     len > ZIP_TAIL_MAX ? ZIP_TAIL_MAX : len))
        r = ARCHIVE_SCAN_ERROR;
    archive_read_free(a);
    return r;
}

enum archive_scan_result archive_scan_fd(int fd, unsigned max_members, archive_member_fn *fn, void *arg)
{
    struct archive *a = archive_scan_open();
    unsigned char head[1024];
    ssize_t got;
    off_t start;
    enum archive_scan_result r;

    if (a == NULL)
        return ARCHIVE_SCAN_ERROR;
    /* The gzip header, for a lone .gz's stored name; then back to where we were. */
    start = lseek(fd, 0, SEEK_CUR);
    got = start >= 0 ? pread(fd, head, sizeof head, start) : -1;
    if (archive_read_open_fd(a, fd, 16384) != ARCHIVE_OK)
        r = archive_format(a) == 0 ? ARCHIVE_SCAN_NOT_ARCHIVE : ARCHIVE_SCAN_ERROR;
    else
        r = scan_entries(a, got > 0 ? head : NULL, got > 0 ? (size_t)got : 0, max_members, fn, arg);
    if (r == ARCHIVE_SCAN_OK && is_zip(a) && !fd_zip_has_end(fd, start))
        r = ARCHIVE_SCAN_ERROR;
    archive_read_free(a);
    return r;
}
