/*
 * gw_prog: one item's progress, throttled (see gw_prog.h). lws service
 * thread.
 */
#include <stdio.h>
#include <string.h>

#include "gw_prog.h"

void
gw_prog_init(gw_prog_t *p)
{
	memset(p, 0, sizeof *p);
	sl_list_init(&p->link);
}

bool
gw_prog_offer(gw_prog_t *p, int64_t now_us, int64_t ivl_us, double value,
    const char *text)
{
	if (!p->sent_us || now_us - p->sent_us >= ivl_us) {
		p->sent_us = now_us;
		p->pending = false;
		return true;
	}
	p->pending = true;
	p->value = value;
	p->has_text = text != NULL;
	if (text)
		snprintf(p->text, sizeof p->text, "%s", text);
	return false;
}

bool
gw_prog_due(gw_prog_t *p, int64_t now_us, int64_t ivl_us)
{
	if (!p->pending || now_us - p->sent_us < ivl_us)
		return false;
	p->pending = false;
	p->sent_us = now_us;
	return true;
}
