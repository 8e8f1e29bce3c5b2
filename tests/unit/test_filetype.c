/*
 * test_filetype.c: types libmagic gives to bytes built here
 * (policy/content/filetype.c): an MS-DOS MZ header, a PE executable, a
 * PDF, an empty zip, plain text, an ELF executable and an OLE2 (Word 97)
 * header; the bounds of the caller's buffer; the call before init; and
 * eight threads typing at once through the one shared handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "policy/content/filetype.h"

static unsigned char mz[260], com[256], pe[512], elf[64], ole[512];
static const char pdf[] = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n";
static const char zip[22] = "PK\x05\x06";
static const char text[] = "Hello,\nthis is plain text.\n";

static void put16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }
static void put32(unsigned char *p, unsigned v) { put16(p, v & 0xffff); put16(p + 2, v >> 16); }

static void build(void)
{
    memcpy(mz, "MZ\x90", 3);
    /* Random bytes that happened to begin with a short jump (0xeb): libmagic
       reads the instruction it jumps to as well. */
    memcpy(com, "\xeb\x10\xcf\xba\x70\xeb\x30\xb1\xea\xca\xda\xac\x14\x9f\xe1\x52"
                "\xd9\x44\x99\x9b\xe1\x75\x44\x5b\xde\x75\xf4\x6b\xeb\x36\x2f\xe9", 32);
    memcpy(pe, "MZ", 2);
    put32(pe + 0x3c, 0x80);        /* e_lfanew */
    memcpy(pe + 0x80, "PE\0\0", 4);
    put16(pe + 0x84, 0x14c);       /* i386 */
    put16(pe + 0x94, 0xe0);        /* optional header size */
    put16(pe + 0x96, 0x102);       /* executable, 32-bit */
    put16(pe + 0x98, 0x10b);       /* PE32 */
    memcpy(elf, "\x7f" "ELF\x02\x01\x01", 7);
    put16(elf + 16, 2);            /* ET_EXEC */
    put16(elf + 18, 62);           /* x86-64 */
    put32(elf + 20, 1);
    memcpy(ole, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
    put16(ole + 0x18, 0x3e);
    put16(ole + 0x1a, 3);
    put16(ole + 0x1c, 0xfffe);     /* little-endian */
    put16(ole + 0x1e, 9);          /* 512-byte sectors */
}

static const struct {
    const char *what;
    const void *buf;
    size_t len;
    const char *type;
} cases[] = {
    { "MZ", mz, sizeof mz, "application/x-dosexec" },
    { "a jump instruction, then data (libmagic's DOS .COM guess)", com, sizeof com, FILETYPE_DOS_GUESS },
    { "PE", pe, sizeof pe, "application/vnd.microsoft.portable-executable" },
    { "PDF", pdf, sizeof pdf - 1, "application/pdf" },
    { "zip", zip, sizeof zip, "application/zip" },
    { "text", text, sizeof text - 1, "text/plain" },
    { "ELF", elf, sizeof elf, "application/x-executable" },
    { "OLE2", ole, sizeof ole, "application/x-ole-storage" },
    { "empty", "", 0, "application/x-empty" },
};

static void test_types(void **state)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[FILETYPE_TYPE_MAX];
        if (filetype_detect(cases[i].buf, cases[i].len, out, sizeof out) != 0)
            fail_msg("%s: %s", cases[i].what, filetype_error());
        if (strcmp(out, cases[i].type) != 0)
            fail_msg("%s: \"%s\", expected \"%s\"", cases[i].what, out, cases[i].type);
    }
}

static void test_bounds(void **state)
{
    char small[8] = "x";

    /* "application/pdf" does not fit in 8 bytes: an error, an empty string, nothing written past. */
    assert_int_equal(filetype_detect(pdf, sizeof pdf - 1, small, sizeof small), -1);
    assert_string_equal(small, "");
    assert_non_null(strstr(filetype_error(), "buffer"));
    /* A buffer over FILETYPE_BYTES_MAX is typed on its start. */
    {
        size_t big = FILETYPE_BYTES_MAX + 4096;
        char *b = malloc(big), out[FILETYPE_TYPE_MAX];
        assert_non_null(b);
        memset(b, 'a', big);
        memcpy(b, pdf, sizeof pdf - 1);
        assert_int_equal(filetype_detect(b, big, out, sizeof out), 0);
        assert_string_equal(out, "application/pdf");
        free(b);
    }
}

static void *typer(void *arg)
{
    char out[FILETYPE_TYPE_MAX];
    size_t k = (size_t)(uintptr_t)arg;

    for (int n = 0; n < 300; n++) {
        size_t i = (k + (size_t)n) % (sizeof cases / sizeof cases[0]);
        if (filetype_detect(cases[i].buf, cases[i].len, out, sizeof out) != 0 || strcmp(out, cases[i].type) != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_threads(void **state)
{
    pthread_t t[8];
    void *rc;

    for (size_t i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&t[i], NULL, typer, (void *)(uintptr_t)i), 0);
    for (size_t i = 0; i < 8; i++) {
        assert_int_equal(pthread_join(t[i], &rc), 0);
        assert_null(rc);
    }
}

static void test_not_initialised(void **state)
{
    char out[FILETYPE_TYPE_MAX];

    filetype_deinit();
    assert_int_equal(filetype_detect(pdf, sizeof pdf - 1, out, sizeof out), -1);
    assert_non_null(strstr(filetype_error(), "not initialised"));
    assert_int_equal(filetype_init(), 0);
    assert_int_equal(filetype_init(), 0); /* a second call keeps the handle */
    assert_int_equal(filetype_detect(pdf, sizeof pdf - 1, out, sizeof out), 0);
}

static int setup(void **state)
{
    build();
    return filetype_init();
}

static int teardown(void **state)
{
    filetype_deinit();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_not_initialised),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
