/*
 * sub_items: the running items sluice-submit shows (see sub_items.h).
 * sluice-submit's thread only.
 */
#include "sub_items.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sl_utf8.h"

void
sub_items_init(sub_items_t *self)
{
	memset(self, 0, sizeof *self);
}

/* The slot holding seq, or NULL. */
static sub_item_t *
s_find(sub_items_t *self, uint64_t seq)
{
	for (size_t i = 0; i < SUB_ITEMS_MAX; i++)
		if (self->slot[i].used && self->slot[i].seq == seq)
			return &self->slot[i];
	return NULL;
}

/* A free slot, else the one reported least recently: the display keeps
 * the items that are moving now. */
static sub_item_t *
s_take(sub_items_t *self)
{
	sub_item_t *old = &self->slot[0];

	for (size_t i = 0; i < SUB_ITEMS_MAX; i++) {
		if (!self->slot[i].used)
			return &self->slot[i];
		if (self->slot[i].at_us < old->at_us)
			old = &self->slot[i];
	}
	return old;
}

int
sub_items_set(sub_items_t *self, uint64_t seq, double progress,
    const char *text, int64_t now_us)
{
	sub_item_t *it;

	/* NaN fails both comparisons */
	if (!(progress >= 0.0 && progress <= 1.0))
		return -EINVAL;
	it = s_find(self, seq);
	if (!it)
		it = s_take(self);
	it->used = true;
	it->seq = seq;
	it->progress = progress;
	it->at_us = now_us;
	sub_items_clean(
	    it->text, sizeof it->text, text ? text : "", SUB_ITEMS_TEXT);
	return 0;
}

void
sub_items_end(sub_items_t *self, uint64_t seq)
{
	sub_item_t *it = s_find(self, seq);

	if (it)
		it->used = false;
}

size_t
sub_items_count(const sub_items_t *self)
{
	size_t n = 0;

	for (size_t i = 0; i < SUB_ITEMS_MAX; i++)
		n += self->slot[i].used;
	return n;
}

size_t
sub_items_format(const sub_items_t *self, char *buf, size_t cap)
{
	const sub_item_t *shown[SUB_ITEMS_MAX];
	size_t n = 0, len = 0;

	for (size_t i = 0; i < SUB_ITEMS_MAX; i++)
		if (self->slot[i].used)
			shown[n++] = &self->slot[i];
	/* by seq: insertion sort of at most SUB_ITEMS_MAX */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && shown[j]->seq < shown[j - 1]->seq;
		     j--) {
			const sub_item_t *t = shown[j];

			shown[j] = shown[j - 1];
			shown[j - 1] = t;
		}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		/* truncated: 99.9 % is not shown as done */
		int w = snprintf(buf + len, cap - len, " #%llu %d%%%s%s",
		    (unsigned long long) shown[i]->seq,
		    (int) (shown[i]->progress * 100.0),
		    shown[i]->text[0] ? " " : "", shown[i]->text);

		if (w < 0 || (size_t) w >= cap - len) {
			buf[len] = '\0'; /* drop the item that did not fit */
			break;
		}
		len += (size_t) w;
	}
	return len;
}

/* A character a terminal acts on instead of showing: C0, DEL, C1. */
static bool
s_is_control(const unsigned char *s, size_t n)
{
	if (n == 1)
		return s[0] < 0x20 || s[0] == 0x7f;
	/* U+0080..U+009F: C2 80..C2 9F (0x9b is CSI to some terminals) */
	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

size_t
sub_items_clean(char *dst, size_t cap, const char *src, size_t max_chars)
{
	size_t left = strlen(src), len = 0, chars = 0;

	while (left && chars < max_chars) {
		size_t bad, n = sl_utf8_seq(src, left, &bad);
		size_t take = n ? n : 1;

		if (n && !s_is_control((const unsigned char *) src, n)) {
			if (len + n >= cap)
				break;
			memcpy(dst + len, src, n);
			len += n;
		} else {
			if (len + 1 >= cap)
				break;
			dst[len++] = '?';
			/* a cut-off sequence is one '?', not one per byte */
			if (!n && bad > 0)
				take = bad;
		}
		src += take;
		left -= take;
		chars++;
	}
	dst[len] = '\0';
	return len;
}
