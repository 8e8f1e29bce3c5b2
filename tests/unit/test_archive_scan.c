/*
 * test_archive_scan.c: member names of archives made at test time by
 * tests/unit/data/archives/make_archives.py (Python's zipfile, tarfile and
 * gzip, Debian's zip -e, python3-py7zr), read from memory and from a file
 * descriptor (policy/content/archive_scan.c).
 *
 * Each case names the members expected in order ("!" before a name: the
 * member is flagged encrypted) and the result. The zip whose member
 * inflates to 256 MB must be listed without inflating it (CPU time), and
 * the tar.gz declaring 100 MB must stop as a limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "policy/content/archive_scan.h"

#define MAX_SEEN 16

static char dir[64];

struct seen {
    unsigned n;
    char names[MAX_SEEN][ARCHIVE_SCAN_NAME_MAX + 2];
    unsigned stop_after; /* 0: never stop */
};

static int note(void *arg, const char *name, size_t len, bool encrypted)
{
    struct seen *s = arg;

    assert_true(len <= ARCHIVE_SCAN_NAME_MAX);
    if (s->n < MAX_SEEN) {
        snprintf(s->names[s->n], sizeof s->names[0], "%s%.*s", encrypted ? "!" : "", (int)len, name);
    }
    s->n++;
    return s->stop_after != 0 && s->n >= s->stop_after;
}

static unsigned char *slurp(const char *name, size_t *len)
{
    char path[256];
    struct stat st;
    unsigned char *buf;
    int fd;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

struct scan_case {
    const char *file;
    enum archive_scan_result result;
    const char *members[6]; /* NULL-terminated */
};

static const struct scan_case cases[] = {
    { "plain.zip", ARCHIVE_SCAN_OK, { "readme.txt", "docs/report.pdf" } },
    { "exe.zip", ARCHIVE_SCAN_OK, { "invoice.exe" } },
    { "encrypted.zip", ARCHIVE_SCAN_OK, { "!secret.txt" } },
    { "plain.tar", ARCHIVE_SCAN_OK, { "a.txt", "dir/b.js" } },
    { "plain.tar.gz", ARCHIVE_SCAN_OK, { "setup.exe", "c.txt" } },
    { "named.gz", ARCHIVE_SCAN_OK, { "payload.exe" } },
    { "nameless.gz", ARCHIVE_SCAN_OK, { "" } },
    { "plain.7z", ARCHIVE_SCAN_OK, { "tool.exe", "notes.txt" } },
    { "encrypted.7z", ARCHIVE_SCAN_OK, { "!" } },
    { "text.txt", ARCHIVE_SCAN_NOT_ARCHIVE, { NULL } },
    { "big.tar.gz", ARCHIVE_SCAN_LIMIT, { "huge.bin" } },
};

static void check_seen(const struct scan_case *c, const struct seen *s, enum archive_scan_result r)
{
    unsigned n = 0;

    if (r != c->result)
        fail_msg("%s: result %d, expected %d", c->file, r, c->result);
    while (c->members[n] != NULL)
        n++;
    if (s->n != n)
        fail_msg("%s: %u members, expected %u", c->file, s->n, n);
    for (unsigned i = 0; i < n; i++)
        if (strcmp(s->names[i], c->members[i]) != 0)
            fail_msg("%s: member %u is \"%s\", expected \"%s\"", c->file, i, s->names[i], c->members[i]);
}

static void test_table(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct scan_case *c = &cases[i];
        struct seen s = { 0 };
        char path[256];
        size_t len;
        unsigned char *buf = slurp(c->file, &len);
        int fd;

        check_seen(c, &s, archive_scan_mem(buf, len, 100, note, &s));
        free(buf);
        memset(&s, 0, sizeof s);
        snprintf(path, sizeof path, "%s/%s", dir, c->file);
        fd = open(path, O_RDONLY);
        assert_true(fd >= 0);
        check_seen(c, &s, archive_scan_fd(fd, 100, note, &s));
        close(fd);
    }
}

static void test_truncated(void **state)
{
    struct seen s = { 0 };
    size_t len;
    unsigned char *buf = slurp("truncated.zip", &len);

    /* Half a zip: no central directory; whatever is listed, it is an error. */
    assert_int_equal(archive_scan_mem(buf, len, 100, note, &s), ARCHIVE_SCAN_ERROR);
    free(buf);
    buf = slurp("plain.zip", &len);
    for (size_t cut = 1; cut < len; cut += 7) {
        enum archive_scan_result r = archive_scan_mem(buf, cut, 100, note, &s);
        assert_true(r == ARCHIVE_SCAN_ERROR || r == ARCHIVE_SCAN_NOT_ARCHIVE);
    }
    free(buf);
}

static void test_bomb_not_inflated(void **state)
{
    struct seen s = { 0 };
    size_t len;
    unsigned char *buf = slurp("bomb.zip", &len);
    clock_t t0 = clock();
    double cpu;

    assert_int_equal(archive_scan_mem(buf, len, 100, note, &s), ARCHIVE_SCAN_OK);
    cpu = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_int_equal(s.n, 1);
    assert_string_equal(s.names[0], "zeros.bin");
    /* Inflating 256 MB costs a few hundred ms of CPU; reading headers, none. */
    if (cpu > 0.08)
        fail_msg("bomb.zip took %.3f s of CPU: its member was inflated", cpu);
    free(buf);
}

static void test_max_members_and_stop(void **state)
{
    struct seen s = { 0 };
    size_t len;
    unsigned char *buf = slurp("plain.zip", &len);

    assert_int_equal(archive_scan_mem(buf, len, 1, note, &s), ARCHIVE_SCAN_LIMIT);
    assert_int_equal(s.n, 1);
    memset(&s, 0, sizeof s);
    assert_int_equal(archive_scan_mem(buf, len, 2, note, &s), ARCHIVE_SCAN_OK);
    assert_int_equal(s.n, 2);
    memset(&s, 0, sizeof s);
    s.stop_after = 1; /* the callback says stop: OK, the rest unseen */
    assert_int_equal(archive_scan_mem(buf, len, 100, note, &s), ARCHIVE_SCAN_OK);
    assert_int_equal(s.n, 1);
    free(buf);
    assert_int_equal(archive_scan_mem("", 0, 100, note, &s), ARCHIVE_SCAN_NOT_ARCHIVE);
}

static int make_dir(void **state)
{
    char cmd[512];

    snprintf(dir, sizeof dir, "/tmp/mxg-archives.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/unit/data/archives/make_archives.py %s", SRCDIR, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_dir(void **state)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bomb_not_inflated),
        cmocka_unit_test(test_max_members_and_stop),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
