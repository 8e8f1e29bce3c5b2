/*
 * suggest.h: "did you mean ...?" for a name that is almost one we know.
 */
#ifndef MXG_RULES_SUGGEST_H
#define MXG_RULES_SUGGEST_H

#include <stddef.h>

#define SUGGEST_WORD_MAX 64 /* longer words get no suggestion */

/*
 * Optimal string alignment distance (Damerau-Levenshtein where no substring
 * is edited twice), ignoring ASCII case: insertions, deletions,
 * substitutions and swaps of two neighbours cost 1 each. Words longer than
 * SUGGEST_WORD_MAX bytes are at distance SUGGEST_FAR.
 */
#define SUGGEST_FAR 1000u
unsigned suggest_distance(const char *a, const char *b);

/*
 * Collects candidates one at a time and keeps the closest: for names kept
 * in a list or a table rather than an array. The first of several equally
 * close names wins. A name is suggested only when it is close enough: at
 * most 2 edits, and fewer than half the length of the word typed.
 */
struct suggest {
    const char *word;
    const char *best;
    unsigned best_distance;
};

void suggest_init(struct suggest *s, const char *word);
void suggest_add(struct suggest *s, const char *name);
/* The name to suggest, or NULL when none is close enough. */
const char *suggest_result(const struct suggest *s);

/* The same over an array of n names: the one to suggest, or NULL. */
const char *suggest_name(const char *word, const char *const *names, size_t n);

#endif
