/*
 * dmarc_parse_driver.c: the body of tests/fuzz/fuzz_dmarc_from.c with a
 * main(), for the plain build, where tests/dmarc/dmarc_valgrind.sh runs
 * it under valgrind: libopendmarc is not built with the sanitizers, so
 * only valgrind sees a bad access inside its record parser.
 *
 *   dmarc_parse_driver --record FILE...  each file is one DMARC record:
 *                                        one line per file with what
 *                                        libopendmarc made of it
 *   dmarc_parse_driver --fuzz FILE...    each file through the fuzz
 *                                        target (From: values and record)
 *
 * Test code: reads files it is given, never asks DNS (see the fuzz
 * target's head comment), exits 1 on an unreadable file.
 */
#include "tests/fuzz/fuzz_dmarc_from.c"

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = malloc(FUZZ_RECORD_MAX + 1);
    size_t n;

    if (fp == NULL || buf == NULL) {
        if (fp != NULL)
            fclose(fp);
        free(buf);
        return NULL;
    }
    n = fread(buf, 1, FUZZ_RECORD_MAX, fp);
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static char tag_char(int c)
{
    return c == 0 ? '-' : (char)c;
}

static void record_print(const char *path, const char *data, size_t len)
{
    struct record_view v;
    const char *name = strrchr(path, '/');

    (void)len; /* a NUL inside ends the record, as it does for the library */
    record_parse(data, &v);
    printf("%s rc=%d p=%c sp=%c pct=%d adkim=%c aspf=%c rua=%d ruf=%d longest=%zu policy=%d\n",
           name != NULL ? name + 1 : path, v.rc, tag_char(v.p), tag_char(v.sp), v.pct, tag_char(v.adkim),
           tag_char(v.aspf), v.nrua, v.nruf, v.longest_uri, v.policy);
}

int main(int argc, char **argv)
{
    bool records;
    int status = 0;

    if (argc < 2 || (strcmp(argv[1], "--record") != 0 && strcmp(argv[1], "--fuzz") != 0)) {
        fprintf(stderr, "usage: %s --record|--fuzz FILE...\n", argv[0]);
        return 2;
    }
    records = strcmp(argv[1], "--record") == 0;
    for (int i = 2; i < argc; i++) {
        size_t len = 0;
        char *data = read_all(argv[i], &len);

        if (data == NULL) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            status = 1;
            continue;
        }
        if (records)
            record_print(argv[i], data, len);
        else
            LLVMFuzzerTestOneInput((const uint8_t *)data, len);
        free(data);
    }
    if (!records)
        printf("%d inputs\n", argc - 2);
    return status;
}
