/*
 * summary.c: mxguard --summary: read decision records from log files
 * (syslog lines, RFC 3339 syslog lines, mxguard -f's standard error) and
 * from JSON-lines files (--records), keep those --day and --rule ask for,
 * and print the report (summary_report.c).
 *
 * Must never count a line it could not parse, nor hide that there were
 * some: they are counted, and the first few named on standard error.
 * Lines are read bounded (SUMMARY_LINE_MAX), whatever a file holds.
 */
#include "milter/summary.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "milter/summary_rec.h"
#include "milter/summary_report.h"

#define SUMMARY_LINE_MAX (1024 * 1024) /* longer lines are not records */
#define SUMMARY_SHOWN 10               /* lines that could not be parsed named on stderr */

struct input {
    FILE *f;
    const char *name;
    long lineno;
    char *buf; /* SUMMARY_LINE_MAX + 1 */
};

struct run {
    const struct summary_opts *o;
    char day[11]; /* YYYY-MM-DD, or "" */
    struct summary_counts c;
    struct kv_line kv;
    struct json_tokener *tok;
    FILE *err;
};

/* The next line without its newline: its length, -1 at the end; *too_long when it was cut. */
static long read_line(struct input *in, bool *too_long)
{
    size_t n = 0;
    int ch;

    *too_long = false;
    while ((ch = getc_unlocked(in->f)) != EOF && ch != '\n') {
        if (n < SUMMARY_LINE_MAX)
            in->buf[n++] = (char)ch;
        else
            *too_long = true;
    }
    if (ch == EOF && n == 0 && !*too_long)
        return -1;
    in->lineno++;
    return (long)n;
}

static void not_parsed(struct run *r, const struct input *in, const char *why)
{
    if (r->c.unparsed++ < SUMMARY_SHOWN)
        fprintf(r->err, "mxguard: --summary: %s:%ld: not parsed: %s\n", in->name, in->lineno, why);
}

static void one_line(struct run *r, const struct input *in, const char *line, size_t len, bool too_long)
{
    const char *rec = line[0] == '{' ? line : srec_log_start(line, len), *error;
    struct json_object *root = NULL;
    struct srec s;
    int rc;

    r->c.lines++;
    if (len == 0 || rec == NULL) {
        r->c.not_records++;
        return;
    }
    if (too_long) {
        not_parsed(r, in, "a line longer than 1 MiB");
        return;
    }
    if (rec == line)
        rc = srec_from_json(&s, r->tok, line, len, &root, &error);
    else
        rc = srec_from_log(&s, &r->kv, rec, len - (size_t)(rec - line), &error);
    if (rc < 0) {
        not_parsed(r, in, error);
    } else {
        r->c.records++;
        if ((r->day[0] != '\0' && memcmp(s.time.p, r->day, 10) != 0) ||
            (r->o->rule != NULL && !summary_rule_decided(&s, r->o->rule)))
            r->c.left_out++;
        else if (summary_add(&r->c, &s) < 0)
            not_parsed(r, in, "out of memory");
    }
    json_object_put(root);
}

static int one_file(struct run *r, const char *name, char *buf)
{
    struct input in = { stdin, "standard input", 0, buf };
    bool too_long;
    long len;

    if (strcmp(name, "-") != 0) {
        in.name = name;
        if ((in.f = fopen(name, "r")) == NULL) {
            fprintf(r->err, "mxguard: --summary: cannot read %s: %s\n", name, strerror(errno));
            return -1;
        }
    }
    while ((len = read_line(&in, &too_long)) >= 0)
        one_line(r, &in, in.buf, (size_t)len, too_long);
    if (ferror(in.f)) {
        fprintf(r->err, "mxguard: --summary: cannot read %s: %s\n", in.name, strerror(errno));
        if (in.f != stdin)
            fclose(in.f);
        return -1;
    }
    if (in.f != stdin)
        fclose(in.f);
    return 0;
}

/* --day: today and yesterday are UTC days, as the records' time=. */
static void resolve_day(const char *day, char out[11])
{
    time_t t = time(NULL);
    struct tm tm;

    out[0] = '\0';
    if (day == NULL)
        return;
    if (strcmp(day, "today") != 0 && strcmp(day, "yesterday") != 0) {
        snprintf(out, 11, "%.10s", day);
        return;
    }
    if (strcmp(day, "yesterday") == 0)
        t -= 86400;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

int summary_run(const struct summary_opts *o, FILE *out, FILE *err)
{
    static char *const stdin_only[] = { "-" };
    struct run r = { .o = o, .err = err };
    char *buf = malloc(SUMMARY_LINE_MAX + 1);
    int rc = 0;

    resolve_day(o->day, r.day);
    summary_counts_init(&r.c);
    kv_line_init(&r.kv);
    r.tok = json_tokener_new();
    if (buf == NULL || r.tok == NULL) {
        fprintf(err, "mxguard: --summary: out of memory\n");
        rc = 1;
    } else {
        json_tokener_set_flags(r.tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        for (int i = 0; i < (o->nfiles ? o->nfiles : 1) && rc == 0; i++)
            rc = one_file(&r, (o->nfiles ? o->files : stdin_only)[i], buf) < 0 ? 1 : 0;
    }
    if (rc == 0 && summary_print(&r.c, o->rule, r.day[0] ? r.day : NULL, out) < 0) {
        fprintf(err, "mxguard: --summary: out of memory\n");
        rc = 1;
    }
    if (rc == 0 && r.c.unparsed > SUMMARY_SHOWN)
        fprintf(err, "mxguard: --summary: %ld more lines not parsed\n", r.c.unparsed - SUMMARY_SHOWN);
    if (r.tok != NULL)
        json_tokener_free(r.tok);
    kv_line_free(&r.kv);
    summary_counts_free(&r.c);
    free(buf);
    return rc;
}
