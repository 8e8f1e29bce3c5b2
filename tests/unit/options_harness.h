/*
 * options_harness.h: run the daemon's option parser (milter/options.c) as
 * mxguard would, with what it prints on stdout and stderr kept for the
 * test: shared by test_options.c (the command line) and test_conffile.c
 * (the settings file).
 */
#ifndef MXG_TESTS_OPTIONS_HARNESS_H
#define MXG_TESTS_OPTIONS_HARNESS_H

#include "milter/conffile.h"
#include "milter/options.h"

#define ARGS_MAX 80

struct parsed {
    struct options o;
    enum options_result result;
    char out[8192]; /* what it printed on stdout */
    char err[8192]; /* and on stderr */
};

/* options_parse(argc, argv) into p, its output captured. */
void parse_argv(struct parsed *p, int argc, char **argv);
/* mxguard ARGS... (NULL-terminated) */
void parse(struct parsed *p, ...);
/* mxguard OPTION VALUE, n times */
void parse_repeated(struct parsed *p, const char *option, const char *value, int n);

#endif
