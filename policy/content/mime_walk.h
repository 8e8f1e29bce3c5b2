/*
 * mime_walk.h: GMime's tree of one message into struct mime_facts
 * (internal to policy/content/mime.c).
 */
#ifndef MXG_POLICY_MIME_WALK_H
#define MXG_POLICY_MIME_WALK_H

#include <gmime/gmime.h>

#include "policy/content/mime.h"

/* Parse the message on st and record its parts: 0, or -1 out of memory. */
int mime_walk_message(struct mime_facts *m, GMimeStream *st);

/* mime_leaf.c: a leaf part's name, decoded size and text; the content hook. */
void mime_walk_leaf(struct mime_facts *m, unsigned index, GMimePart *part);

#endif
