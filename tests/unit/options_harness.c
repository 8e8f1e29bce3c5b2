/*
 * options_harness.c: see options_harness.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/options_harness.h"

/* Run fd's output into a scratch file while options_parse runs. */
static void slurp(FILE *f, char *buf, size_t size)
{
    size_t n;

    rewind(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

void parse_argv(struct parsed *p, int argc, char **argv)
{
    FILE *out = tmpfile(), *err = tmpfile();
    int saved_out = dup(1), saved_err = dup(2);

    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    p->result = options_parse(argc, argv, &p->o);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    slurp(out, p->out, sizeof p->out);
    slurp(err, p->err, sizeof p->err);
}

void parse(struct parsed *p, ...)
{
    char *argv[ARGS_MAX + 2] = {"mxguard"};
    int argc = 1;
    va_list ap;
    const char *a;

    va_start(ap, p);
    while ((a = va_arg(ap, const char *)) != NULL && argc <= ARGS_MAX)
        argv[argc++] = (char *)a;
    va_end(ap);
    assert_null(a);
    parse_argv(p, argc, argv);
}

void parse_repeated(struct parsed *p, const char *option, const char *value, int n)
{
    char *argv[ARGS_MAX + 2] = {"mxguard"};
    int argc = 1;

    assert_true(2 * n <= ARGS_MAX);
    for (int i = 0; i < n; i++) {
        argv[argc++] = (char *)option;
        argv[argc++] = (char *)value;
    }
    parse_argv(p, argc, argv);
}
