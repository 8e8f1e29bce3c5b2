/*
 * cidr_set.c: a set of networks as a sorted array of disjoint address
 * ranges, with a direct index on the top 16 bits of each address.
 *
 * Networks are collected while a list loads; cidr_set_freeze merges them
 * into disjoint ranges (a containment test needs only their union). A
 * lookup reads one index slot and binary-searches the few ranges of its
 * bucket, so its cost barely depends on how many networks the list
 * holds: a handful of cache lines, never a pointer chase per prefix bit.
 * Never allocates on lookup; safe from any thread once frozen.
 */
#include "rules/cidr_set.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A 128-bit key as two halves, for cheap comparisons. */
struct u128 {
    uint64_t hi, lo;
};

struct range {
    struct u128 first, last;
};

/*
 * Buckets, in key order (the index needs bucket_of to grow with the key):
 *   0                   keys below ::ffff:0:0 (::1 and the like)
 *   1 .. 65536          IPv4-mapped keys, by the top 16 bits of the IPv4 address
 *   65537               the rest of ::/16, above the IPv4-mapped range
 *   65537 + t           keys whose top 16 bits are t, 1 <= t <= 65535
 */
#define NBUCKETS (65537u + 65536u)

struct cidr_set {
    struct range *ranges;
    size_t count, cap;      /* networks added; ranges after freeze */
    size_t added;
    uint32_t *index;        /* NBUCKETS + 1 entries: first range of each bucket */
    bool frozen;
};

static struct u128 key_of(const uint8_t b[16])
{
    struct u128 k = { 0, 0 };
    for (int i = 0; i < 8; i++) {
        k.hi = k.hi << 8 | b[i];
        k.lo = k.lo << 8 | b[i + 8];
    }
    return k;
}

static int cmp128(struct u128 a, struct u128 b)
{
    if (a.hi != b.hi)
        return a.hi < b.hi ? -1 : 1;
    if (a.lo != b.lo)
        return a.lo < b.lo ? -1 : 1;
    return 0;
}

static bool is_v4(struct u128 k)
{
    return k.hi == 0 && (k.lo >> 32) == 0xffffu;
}

static uint32_t bucket_of(struct u128 k)
{
    uint32_t top = (uint32_t)(k.hi >> 48);

    if (top != 0)
        return 65537u + top;
    if (is_v4(k))
        return 1u + (uint32_t)((k.lo >> 16) & 0xffff);
    return k.hi == 0 && (k.lo >> 32) < 0xffffu ? 0u : 65537u;
}

struct cidr_set *cidr_set_new(void)
{
    return calloc(1, sizeof(struct cidr_set));
}

void cidr_set_free(struct cidr_set *set)
{
    if (set == NULL)
        return;
    free(set->ranges);
    free(set->index);
    free(set);
}

int cidr_set_add_key(struct cidr_set *set, const struct ipaddr *net, unsigned plen)
{
    struct range r;
    uint64_t mhi, mlo;

    if (set->frozen || plen > 128)
        return -1;
    if (set->count == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        struct range *grown = realloc(set->ranges, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        set->ranges = grown;
        set->cap = cap;
    }
    /* Host part of the mask: bits below the prefix. */
    mhi = plen >= 64 ? 0 : (plen == 0 ? UINT64_MAX : UINT64_MAX >> plen);
    mlo = plen >= 128 ? 0 : (plen <= 64 ? UINT64_MAX : UINT64_MAX >> (plen - 64));
    r.first = key_of(net->b);
    r.first.hi &= ~mhi;
    r.first.lo &= ~mlo;
    r.last.hi = r.first.hi | mhi;
    r.last.lo = r.first.lo | mlo;
    set->ranges[set->count++] = r;
    set->added++;
    return 0;
}

static int by_first(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    int c = cmp128(x->first, y->first);
    return c != 0 ? c : -cmp128(x->last, y->last);
}

/* True when next starts at or before last + 1: the ranges overlap or abut. */
static bool touches(struct u128 last, struct u128 next)
{
    struct u128 after = last;

    if (++after.lo == 0 && ++after.hi == 0)
        return true; /* last is the top of the address space */
    return cmp128(next, after) <= 0;
}

int cidr_set_freeze(struct cidr_set *set)
{
    size_t out = 0;

    if (set->frozen)
        return 0;
    if (set->count > 0) /* qsort(NULL, 0, ...) is undefined */
        qsort(set->ranges, set->count, sizeof *set->ranges, by_first);
    for (size_t i = 0; i < set->count; i++) {
        struct range r = set->ranges[i];
        if (out > 0 && touches(set->ranges[out - 1].last, r.first)) {
            if (cmp128(r.last, set->ranges[out - 1].last) > 0)
                set->ranges[out - 1].last = r.last;
        } else {
            set->ranges[out++] = r;
        }
    }
    set->count = out;
    if ((set->index = malloc((NBUCKETS + 1) * sizeof *set->index)) == NULL)
        return -1;
    /* index[b] = first range whose first address lies in bucket b or later. */
    for (uint32_t b = 0, i = 0; b <= NBUCKETS; b++) {
        while (i < out && bucket_of(set->ranges[i].first) < b)
            i++;
        set->index[b] = i;
    }
    set->frozen = true;
    return 0;
}

bool cidr_set_contains(const struct cidr_set *set, const struct ipaddr *ip)
{
    struct u128 k = key_of(ip->b);
    uint32_t b = bucket_of(k);
    size_t lo, hi;

    if (!set->frozen || set->count == 0)
        return false;
    /* The answer is the last range starting at or before k: it starts in
       k's bucket, or it is the one just before that bucket. */
    lo = set->index[b] > 0 ? set->index[b] - 1 : 0;
    hi = set->index[b + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp128(set->ranges[mid].first, k) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo > 0 && cmp128(k, set->ranges[lo - 1].last) <= 0;
}

size_t cidr_set_count(const struct cidr_set *set)
{
    return set->added;
}

static void mask_key(uint8_t key[16], unsigned plen)
{
    for (unsigned i = plen; i < 128; i++)
        key[i >> 3] &= (uint8_t)~(0x80u >> (i & 7));
}

int cidr_parse(const char *text, struct ipaddr *net, unsigned *plen, const char **error_r)
{
    char buf[64];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    unsigned max, bits;
    struct ipaddr masked;

    if (alen == 0 || alen >= sizeof buf) {
        *error_r = "expected an IPv4 or IPv6 address or network";
        return -1;
    }
    memcpy(buf, text, alen);
    buf[alen] = '\0';
    if (ipaddr_parse(buf, net) < 0) {
        *error_r = "expected an IPv4 or IPv6 address or network";
        return -1;
    }
    max = strchr(buf, ':') == NULL ? 32 : 128;
    bits = max;
    if (slash != NULL) {
        char *end;
        unsigned long v;
        if (slash[1] < '0' || slash[1] > '9') {
            *error_r = "expected a prefix length after '/'";
            return -1;
        }
        v = strtoul(slash + 1, &end, 10);
        if (*end != '\0' || v > max) {
            *error_r = max == 32 ? "IPv4 prefix length must be 0 to 32"
                                 : "IPv6 prefix length must be 0 to 128";
            return -1;
        }
        bits = (unsigned)v;
    }
    /* An IPv4 network lives under ::ffff:0:0/96 in the shared key space. */
    *plen = max == 32 ? 96 + bits : bits;
    masked = *net;
    mask_key(masked.b, *plen);
    if (memcmp(masked.b, net->b, 16) != 0) {
        *error_r = "host bits set below the prefix length";
        return -1;
    }
    return 0;
}

int cidr_set_add(struct cidr_set *set, const char *text, const char **error_r)
{
    struct ipaddr net;
    unsigned plen;

    if (cidr_parse(text, &net, &plen, error_r) < 0)
        return -1;
    if (cidr_set_add_key(set, &net, plen) < 0) {
        *error_r = set->frozen ? "the list is already in use" : "out of memory";
        return -1;
    }
    return 0;
}
