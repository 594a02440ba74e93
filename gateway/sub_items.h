/*
 * sub_items: the running items sluice-submit shows on its progress bar.
 *
 * A request's items report progress while they run (docs/PROTOCOL.md §1,
 * "Progress and partial values"). On a terminal, sluice-submit shows the
 * latest report of the few items heard from last, beside its done/total
 * bar; an item leaves when its result or error arrives. The table is
 * fixed-size (SUB_ITEMS_MAX): a request of a million items costs nothing
 * more than one of four. Task-supplied text reaches a terminal, so it is
 * made printable here (no control characters, C0 or C1: a task must not
 * be able to move the cursor or retitle the window). No allocation; the
 * caller owns the table; one thread (sluice-submit's only one).
 */
#ifndef SUB_ITEMS_H
#define SUB_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SUB_ITEMS_MAX 4   /* items shown at once: the latest reported */
#define SUB_ITEMS_TEXT 24 /* characters of an item's text shown */

typedef struct sub_item {
	bool used;                         /* this slot holds a running item */
	uint64_t seq;                      /* the item's seq */
	double progress;                   /* 0..1, the latest report */
	char text[SUB_ITEMS_TEXT * 4 + 1]; /* printable UTF-8, "" for none */
	int64_t at_us; /* when it was last reported (monotonic µs) */
} sub_item_t;

typedef struct sub_items {
	sub_item_t slot[SUB_ITEMS_MAX]; /* in no order */
} sub_items_t;

/* An empty table. */
void sub_items_init(sub_items_t *self);

/*
 * Item seq reported progress (0..1) and text (NULL: none) at now_us.
 * It takes a free slot, or the one reported least recently. 0, or
 * -EINVAL for a progress that is not a number in 0..1 (nothing changes).
 */
int sub_items_set(sub_items_t *self, uint64_t seq, double progress,
    const char *text, int64_t now_us);

/* Item seq ended (its result or error arrived): it is shown no more. */
void sub_items_end(sub_items_t *self, uint64_t seq);

/* How many items the table shows. */
size_t sub_items_count(const sub_items_t *self);

/*
 * The items as " #SEQ PCT% TEXT" each, by seq, into buf (cap > 0 bytes,
 * always NUL-terminated; cut short at an item boundary when it does not
 * fit). Returns strlen(buf).
 */
size_t sub_items_format(const sub_items_t *self, char *buf, size_t cap);

/*
 * src made printable into dst (cap > 0 bytes, NUL-terminated): at most
 * max_chars characters of well-formed UTF-8 (a cut never splits one);
 * control characters (C0, DEL, C1) and bytes of no valid sequence
 * become '?'. Returns strlen(dst).
 */
size_t sub_items_clean(
    char *dst, size_t cap, const char *src, size_t max_chars);

#endif
