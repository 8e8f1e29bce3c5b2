/*
 * parse_decl.c: the grammar's actions for declarations: lists, DNS lists,
 * rate limits, greylisting's settings and macros.
 *
 * Each setting is checked where it is written and reported there with
 * file:line:col; a declaration with a mistake is dropped whole, never kept
 * half-read. Never resolves fact names (compile.c does, after every file).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/smtp/address.h"
#include "rules/parser.h"
#include "rules/suggest.h"

void list_begin(struct parser *p, char *name, char *kind, const struct rules_loc *loc,
                const struct rules_loc *kind_loc)
{
    static const struct { const char *word; enum list_kind kind; } kinds[] = {
        { "networks", LIST_NETWORKS }, { "domains", LIST_DOMAINS }, { "addresses", LIST_ADDRESSES },
        { "regexes", LIST_REGEXES }, { "words", LIST_WORDS },
    };
    /* A declaration cut short by a syntax error never reached list_end. */
    list_free(p->list);
    p->list = NULL;
    for (const struct list *l = p->rs->lists; l != NULL; l = l->next) {
        if (strcmp(l->name, name) == 0) {
            diag_error(p->diag, loc, "list <%s> is already defined at %s:%d",
                       name, l->loc.file, l->loc.first_line);
            goto out;
        }
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kind, kinds[i].word) == 0) {
            p->list = list_new(name, kinds[i].kind, loc);
            if (p->list == NULL)
                diag_error(p->diag, loc, "out of memory");
            goto out;
        }
    }
    diag_error(p->diag, kind_loc, "expected list type networks, domains, addresses, regexes or words, found \"%s\"", kind);
out:
    free(name);
    free(kind);
}

/* "list NAME TYPE file PATH;": the entries of the list being declared, from PATH. */
void list_load(struct parser *p, char *path, const struct rules_loc *loc)
{
    if (p->list != NULL) {
        char *full = parser_path(p, path);
        const char *why = "out of memory";
        if (full == NULL || list_load_file(p->list, full, p->diag, &why) < 0)
            diag_error(p->diag, loc, "cannot read list file \"%s\": %s", path, why);
        free(full);
    }
    free(path);
}

void list_end(struct parser *p)
{
    if (p->list != NULL) {
        struct list **tail = &p->rs->lists;
        while (*tail != NULL)
            tail = &(*tail)->next;
        *tail = p->list;
        p->list = NULL;
    }
}

char *macro_value(struct parser *p, char *name, const struct rules_loc *loc)
{
    for (const struct macro *m = p->rs->macros; m != NULL; m = m->next) {
        if (strcmp(m->name, name) == 0) {
            free(name);
            return strdup(m->value);
        }
    }
    diag_error(p->diag, loc, "undefined macro $%s: expected 'define %s \"...\";' before its first use", name, name);
    free(name);
    return strdup("");
}

void macro_define(struct parser *p, char *name, char *value, const struct rules_loc *loc)
{
    struct macro *m;

    for (m = p->rs->macros; m != NULL; m = m->next) {
        if (strcmp(m->name, name) == 0) {
            diag_error(p->diag, loc, "macro $%s is already defined at %s:%d", name, m->loc.file, m->loc.first_line);
            free(name);
            free(value);
            return;
        }
    }
    if ((m = calloc(1, sizeof *m)) == NULL) {
        diag_error(p->diag, loc, "out of memory");
        free(name);
        free(value);
        return;
    }
    m->name = name;
    m->value = value;
    m->loc = *loc;
    m->next = p->rs->macros;
    p->rs->macros = m;
}

void dnslist_begin(struct parser *p, char *name, const struct rules_loc *loc)
{
    /* Its return codes are read into the list as networks, like "codes {...}". */
    char *kind = strdup("networks");

    if (kind == NULL) {
        diag_error(p->diag, loc, "out of memory");
        free(name);
        return;
    }
    list_begin(p, name, kind, loc, loc);
    p->zone_seen = false;
    p->required_typo = false;
    if (p->list != NULL) {
        p->list->kind = LIST_DNS;
        p->list->weight = 1;
    }
}

/* "300", "300s", "5m", "24h", "36d": seconds, at most a year. -1 when it is none of those. */
static long duration(const char *v)
{
    char *end;
    long n = strtol(v, &end, 10), unit = 1;

    if (end == v || n < 0)
        return -1;
    if (*end != '\0') {
        const char *units = "smhd";
        static const long secs[] = { 1, 60, 3600, 86400 };
        const char *u = strchr(units, *end);
        if (u == NULL || end[1] != '\0')
            return -1;
        unit = secs[u - units];
    }
    return n <= 366L * 86400 / unit ? n * unit : -1;
}

static bool on_error_value(struct parser *p, const char *what, const char *value, const struct rules_loc *loc,
                           bool *tempfail)
{
    if (strcmp(value, "tempfail") != 0 && strcmp(value, "skip") != 0) {
        diag_error(p->diag, loc, "%s: expected on-error skip or tempfail, found \"%s\"", what, value);
        return false;
    }
    *tempfail = strcmp(value, "tempfail") == 0;
    return true;
}

/* "a, b or c": the names of the settings a block takes. */
static void join_names(char *out, size_t outsz, const char *const *names, size_t n)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < n && used < outsz; i++)
        used += (size_t)snprintf(out + used, outsz - used, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                                 names[i]);
}

/*
 * A setting no block of this kind takes: the closest one it does, or all
 * of them. The first nrequired names are the block's required settings: a
 * typo of one of them is reported here only, not again as missing.
 */
static void unknown_setting(struct parser *p, const char *what, const char *key, const char *const *names,
                            size_t n, size_t nrequired, const struct rules_loc *loc)
{
    const char *best = suggest_name(key, names, n);
    char all[256];

    if (best != NULL) {
        diag_error(p->diag, loc, "%s: unknown setting \"%s\": did you mean \"%s\"?", what, key, best);
        for (size_t i = 0; i < nrequired; i++)
            p->required_typo |= best == names[i];
        return;
    }
    join_names(all, sizeof all, names, n);
    diag_error(p->diag, loc, "%s: expected %s, found \"%s\"", what, all, key);
}

static void ratelimit_set(struct parser *p, struct list *l, const char *key, char *value,
                          const struct rules_loc *loc)
{
    static const char *const units[] = { "connections", "messages", "recipients" };
    static const char *const names[] = { "key", "window", "limit", "count", "on-error" };
    char what[80], *end;
    long n;

    snprintf(what, sizeof what, "ratelimit <%.60s>", l->name);
    if (strcmp(key, "key") == 0) {
        free(l->key);
        l->key = strdup(value);
    } else if (strcmp(key, "window") == 0) {
        if ((n = duration(value)) < 1)
            diag_error(p->diag, loc, "%s: expected a window like 60, 10m, 1h or 1d, found \"%s\"", what, value);
        else
            l->window = (unsigned)n;
    } else if (strcmp(key, "limit") == 0) {
        n = strtol(value, &end, 10);
        if (*end != '\0' || n < 1 || n > 100000000)
            diag_error(p->diag, loc, "%s: expected a limit from 1 to 100000000, found \"%s\"", what, value);
        else
            l->limit = (unsigned long)n;
    } else if (strcmp(key, "count") == 0) {
        size_t i = 0;
        while (i < 3 && strcmp(value, units[i]) != 0)
            i++;
        if (i == 3)
            diag_error(p->diag, loc, "%s: expected count connections, messages or recipients, found \"%s\"",
                       what, value);
        else
            l->unit = (enum ratelimit_unit)i;
    } else if (strcmp(key, "on-error") == 0) {
        on_error_value(p, what, value, loc, &l->tempfail);
    } else {
        unknown_setting(p, what, key, names, sizeof names / sizeof names[0], 3, loc);
    }
}

static void greylist_set(struct parser *p, const char *key, char *value, const struct rules_loc *loc)
{
    static const struct { const char *name; size_t off; bool is_duration; long min, max; } settings[] = {
        { "delay", offsetof(struct greylist_params, delay), true, 0, 0 },
        { "window", offsetof(struct greylist_params, window), true, 1, 0 },
        { "lifetime", offsetof(struct greylist_params, lifetime), true, 1, 0 },
        { "auto-allow", offsetof(struct greylist_params, autoallow_passes), false, 0, 1000000 },
        { "auto-allow-lifetime", offsetof(struct greylist_params, autoallow_lifetime), true, 1, 0 },
        { "ipv4-prefix", offsetof(struct greylist_params, v4_prefix), false, 8, 32 },
        { "ipv6-prefix", offsetof(struct greylist_params, v6_prefix), false, 16, 128 },
    };
    struct greylist_params *gp = &p->rs->greylist;

    if (strcmp(key, "on-error") == 0) {
        on_error_value(p, "greylist", value, loc, &p->rs->greylist_tempfail);
        return;
    }
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        char *end;
        long n;
        if (strcmp(key, settings[i].name) != 0)
            continue;
        n = settings[i].is_duration ? duration(value) : strtol(value, &end, 10);
        if (settings[i].is_duration ? n < settings[i].min
                                    : (*end != '\0' || n < settings[i].min || n > settings[i].max)) {
            if (settings[i].is_duration)
                diag_error(p->diag, loc, "greylist: %s: expected a time like 300, 5m, 24h or 36d, found \"%s\"",
                           key, value);
            else
                diag_error(p->diag, loc, "greylist: %s: expected a number from %ld to %ld, found \"%s\"", key,
                           settings[i].min, settings[i].max, value);
            return;
        }
        *(unsigned *)((char *)gp + settings[i].off) = (unsigned)n;
        return;
    }
    {
        const char *names[sizeof settings / sizeof settings[0] + 1];
        for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
            names[i] = settings[i].name;
        names[sizeof settings / sizeof settings[0]] = "on-error";
        unknown_setting(p, "greylist", key, names, sizeof names / sizeof names[0], 0, loc);
    }
}

void ratelimit_begin(struct parser *p, char *name, const struct rules_loc *loc)
{
    char *kind = strdup("networks");

    if (kind == NULL) {
        diag_error(p->diag, loc, "out of memory");
        free(name);
        return;
    }
    list_begin(p, name, kind, loc, loc);
    p->required_typo = false;
    if (p->list != NULL) {
        p->list->kind = LIST_RATELIMIT;
        p->list->unit = RATELIMIT_MESSAGES;
    }
}

void ratelimit_end(struct parser *p)
{
    struct list *l = p->list;

    if (l == NULL)
        return;
    if (l->key == NULL || l->window == 0 || l->limit == 0) {
        if (!p->required_typo)
            diag_error(p->diag, &l->loc,
                       "ratelimit <%s>: expected 'key FACT;', 'window SECONDS;' and 'limit N;' settings", l->name);
        list_free(l);
        p->list = NULL;
        return;
    }
    if (p->rs->nlimits == STATECHECK_LIMITS_MAX) {
        diag_error(p->diag, &l->loc, "more than %d rate limits", STATECHECK_LIMITS_MAX);
        list_free(l);
        p->list = NULL;
        return;
    }
    l->index = p->rs->nlimits++;
    list_end(p);
}

void greylist_begin(struct parser *p, const struct rules_loc *loc)
{
    if (p->rs->greylist_seen)
        diag_error(p->diag, loc, "greylist settings are given once: a 'greylist { ... }' block came before");
    p->rs->greylist_seen = true;
    p->greylist_block = true;
}

static const char *const dnslist_settings[] = { "zone", "codes", "bitmask", "weight", "checks", "on-error" };

static void dnslist_set(struct parser *p, struct list *l, const char *key, char *value, const struct rules_loc *loc)
{
    char what[80], *end;

    snprintf(what, sizeof what, "dnslist <%.60s>", l->name);
    if (strcmp(key, "zone") == 0) {
        const char *error;
        size_t n = strlen(value);
        p->zone_seen = true;
        if (n > 0 && value[n - 1] == '.')
            value[--n] = '\0';
        if (address_check_domain(value, n, &error) < 0) {
            diag_error(p->diag, loc, "%s: zone \"%s\": %s", what, value, error);
        } else {
            free(l->zone);
            l->zone = strdup(value);
        }
    } else if (strcmp(key, "weight") == 0) {
        long w = strtol(value, &end, 10);
        if (*end != '\0' || w < -100 || w > 100)
            diag_error(p->diag, loc, "%s: expected a weight from -100 to 100, found \"%s\"", what, value);
        else
            l->weight = (int)w;
    } else if (strcmp(key, "bitmask") == 0) {
        unsigned long m = strtoul(value, &end, 0);
        if (*end != '\0' || m == 0 || m > 255)
            diag_error(p->diag, loc, "%s: expected a bitmask from 1 to 255 (0x.. for hex), found \"%s\"", what, value);
        else
            l->bitmask = m;
    } else if (strcmp(key, "on-error") == 0) {
        on_error_value(p, what, value, loc, &l->tempfail);
    } else if (strcmp(key, "checks") == 0) {
        free(l->key);
        l->key = strdup(value);
    } else {
        unknown_setting(p, what, key, dnslist_settings, sizeof dnslist_settings / sizeof dnslist_settings[0], 1,
                        loc);
    }
}

/* clamd { on-error skip|tempfail; }: what a scan that failed means. */
static void clamd_set(struct parser *p, const char *key, const char *value, const struct rules_loc *loc)
{
    static const char *const names[] = { "on-error" };

    if (strcmp(key, "on-error") == 0)
        on_error_value(p, "clamd", value, loc, &p->rs->virus_tempfail);
    else
        unknown_setting(p, "clamd", key, names, 1, 0, loc);
}

void clamd_begin(struct parser *p, const struct rules_loc *loc)
{
    if (p->rs->clamd_seen)
        diag_error(p->diag, loc, "clamd settings are given once: a 'clamd { ... }' block came before");
    p->rs->clamd_seen = true;
    p->clamd_block = true;
}

/* One setting of a dnslist, ratelimit, greylist or clamd block, to the block being read. */
void block_set(struct parser *p, char *key, char *value, const struct rules_loc *loc)
{
    struct list *l = p->list;

    if (value == NULL) {
        diag_error(p->diag, loc, "out of memory");
    } else if (p->greylist_block) {
        greylist_set(p, key, value, loc);
    } else if (p->clamd_block) {
        clamd_set(p, key, value, loc);
    } else if (l == NULL) {
        /* the list was refused already */
    } else if (l->kind == LIST_RATELIMIT) {
        ratelimit_set(p, l, key, value, loc);
    } else {
        dnslist_set(p, l, key, value, loc);
    }
    free(key);
    free(value);
}

void dnslist_codes(struct parser *p, char *key, const struct rules_loc *loc)
{
    static const char *const codes[] = { "codes" };

    if (strcmp(key, "codes") != 0 && p->list != NULL && p->list->kind == LIST_DNS && suggest_name(key, codes, 1))
        diag_error(p->diag, loc, "dnslist <%s>: unknown setting \"%s\": did you mean \"codes\"?", p->list->name, key);
    else if (strcmp(key, "codes") != 0)
        diag_error(p->diag, loc, "expected 'codes { ... }', found \"%s\"", key);
    free(key);
}

void dnslist_end(struct parser *p)
{
    if (p->list != NULL && p->list->zone == NULL) {
        if (!p->zone_seen && !p->required_typo) /* a bad or misspelt zone was reported where it stands */
            diag_error(p->diag, &p->list->loc, "dnslist <%s>: expected a 'zone \"...\";' setting", p->list->name);
        list_free(p->list);
        p->list = NULL;
        return;
    }
    list_end(p);
}
