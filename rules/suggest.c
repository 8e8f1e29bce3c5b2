/*
 * suggest.c: "did you mean ...?" for a name that is almost one we know:
 * a keyword, a fact, a list, a stage, a setting, a rule label.
 *
 * Works on the admin's own text, bounded: never allocates, and a word
 * longer than SUGGEST_WORD_MAX bytes gets no suggestion rather than a long
 * computation.
 */
#include "rules/suggest.h"

#include <ctype.h>
#include <string.h>

#define SUGGEST_MAX_EDITS 2u

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
    unsigned m = a < b ? a : b;

    return m < c ? m : c;
}

static int fold(char c)
{
    return tolower((unsigned char)c);
}

unsigned suggest_distance(const char *a, const char *b)
{
    /* Three rows of the edit matrix: two back for a swap, one back, this one. */
    unsigned rows[3][SUGGEST_WORD_MAX + 1];
    size_t la = strlen(a), lb = strlen(b);
    unsigned *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

    if (la > SUGGEST_WORD_MAX || lb > SUGGEST_WORD_MAX)
        return SUGGEST_FAR;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (unsigned)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (unsigned)i;
        for (size_t j = 1; j <= lb; j++) {
            unsigned cost = fold(a[i - 1]) != fold(b[j - 1]);
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
            if (i > 1 && j > 1 && fold(a[i - 1]) == fold(b[j - 2]) && fold(a[i - 2]) == fold(b[j - 1])
                && prev2[j - 2] + 1 < cur[j])
                cur[j] = prev2[j - 2] + 1;
        }
        unsigned *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

void suggest_init(struct suggest *s, const char *word)
{
    s->word = word;
    s->best = NULL;
    s->best_distance = SUGGEST_FAR;
}

void suggest_add(struct suggest *s, const char *name)
{
    unsigned d;

    if (s->word == NULL || name == NULL)
        return;
    d = suggest_distance(s->word, name);
    if (d < s->best_distance) {
        s->best = name;
        s->best_distance = d;
    }
}

const char *suggest_result(const struct suggest *s)
{
    size_t len = s->word != NULL ? strlen(s->word) : 0;

    if (s->best == NULL || s->best_distance > SUGGEST_MAX_EDITS || 2 * (size_t)s->best_distance >= len)
        return NULL;
    return s->best;
}

const char *suggest_name(const char *word, const char *const *names, size_t n)
{
    struct suggest s;

    suggest_init(&s, word);
    for (size_t i = 0; i < n; i++)
        suggest_add(&s, names[i]);
    return suggest_result(&s);
}
