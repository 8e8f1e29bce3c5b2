/*
 * cidr_set.c: a path-compressed binary trie over 128-bit keys.
 *
 * Lookup walks at most one node per distinct prefix length on the path,
 * so its cost depends on the address, not on how many networks the list
 * holds. Memory: two nodes at most per network. Never allocates on lookup.
 */
#include "rules/cidr_set.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cidr_node {
    uint8_t key[16];
    uint8_t plen;     /* 0..128 */
    bool entry;       /* a network the admin listed (not only a branch point) */
    struct cidr_node *child[2];
};

struct cidr_set {
    struct cidr_node *root;
    size_t count;
};

struct cidr_set *cidr_set_new(void)
{
    return calloc(1, sizeof(struct cidr_set));
}

static void node_free(struct cidr_node *n)
{
    /* Iterative over the left spine keeps the recursion depth at 128 at most. */
    while (n != NULL) {
        struct cidr_node *next = n->child[0];
        node_free(n->child[1]);
        free(n);
        n = next;
    }
}

void cidr_set_free(struct cidr_set *set)
{
    if (set == NULL)
        return;
    node_free(set->root);
    free(set);
}

static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned max)
{
    unsigned i = 0;

    while (i + 8 <= max && a[i >> 3] == b[i >> 3])
        i += 8;
    while (i < max && ipaddr_bit(a, i) == ipaddr_bit(b, i))
        i++;
    return i;
}

static void mask_key(uint8_t key[16], unsigned plen)
{
    for (unsigned i = plen; i < 128; i++)
        key[i >> 3] &= (uint8_t)~(0x80u >> (i & 7));
}

static struct cidr_node *node_new(const uint8_t *key, unsigned plen, bool entry)
{
    struct cidr_node *n = calloc(1, sizeof *n);

    if (n == NULL)
        return NULL;
    memcpy(n->key, key, 16);
    mask_key(n->key, plen);
    n->plen = (uint8_t)plen;
    n->entry = entry;
    return n;
}

int cidr_set_add_key(struct cidr_set *set, const struct ipaddr *net, unsigned plen)
{
    struct cidr_node **pp = &set->root;
    const uint8_t *key = net->b;

    while (*pp != NULL) {
        struct cidr_node *n = *pp;
        unsigned min = n->plen < plen ? n->plen : plen;
        unsigned common = common_bits(n->key, key, min);

        if (common < n->plen) {
            /* The new prefix diverges inside n's prefix: split here. */
            struct cidr_node *leaf, *glue;
            if (common == plen) {
                if ((leaf = node_new(key, plen, true)) == NULL)
                    return -1;
                leaf->child[ipaddr_bit(n->key, plen)] = n;
                *pp = leaf;
            } else {
                if ((leaf = node_new(key, plen, true)) == NULL)
                    return -1;
                if ((glue = node_new(key, common, false)) == NULL) {
                    free(leaf);
                    return -1;
                }
                glue->child[ipaddr_bit(key, common)] = leaf;
                glue->child[ipaddr_bit(n->key, common)] = n;
                *pp = glue;
            }
            set->count++;
            return 0;
        }
        if (n->plen == plen) {
            if (!n->entry)
                set->count++;
            n->entry = true;
            return 0;
        }
        pp = &n->child[ipaddr_bit(key, n->plen)];
    }
    if ((*pp = node_new(key, plen, true)) == NULL)
        return -1;
    set->count++;
    return 0;
}

bool cidr_set_contains(const struct cidr_set *set, const struct ipaddr *ip)
{
    const struct cidr_node *n = set->root;

    while (n != NULL) {
        if (common_bits(n->key, ip->b, n->plen) < n->plen)
            return false;
        if (n->entry)
            return true; /* any containing network will do */
        if (n->plen >= 128)
            return false;
        n = n->child[ipaddr_bit(ip->b, n->plen)];
    }
    return false;
}

size_t cidr_set_count(const struct cidr_set *set)
{
    return set->count;
}

int cidr_parse(const char *text, struct ipaddr *net, unsigned *plen, const char **error_r)
{
    char buf[64];
    const char *slash = strchr(text, '/');
    size_t alen = slash ? (size_t)(slash - text) : strlen(text);
    unsigned max, bits;

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
    {
        struct ipaddr masked = *net;
        mask_key(masked.b, *plen);
        if (memcmp(masked.b, net->b, 16) != 0) {
            *error_r = "host bits set below the prefix length";
            return -1;
        }
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
        *error_r = "out of memory";
        return -1;
    }
    return 0;
}
