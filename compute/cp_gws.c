/*
 * cp_gws: the gateways a worker serves (see cp_gws.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cp_gws.h"
#include "cp_resolve.h"
#include "sl_err.h"
#include "sl_lines.h"
#include "sl_log.h"

/* cp_resolve_fn: one resolved endpoint; keep its link or make one. */
static int
s_listed(void *arg, const char *endpoint)
{
	cp_gws_t *self = arg;
	cp_link_t *l;

	for (size_t i = 0; i < self->n; i++)
		if (!strcmp(self->links[i]->endpoint, endpoint)) {
			self->links[i]->listed = true;
			return 0;
		}
	if (self->n == CP_GWS_MAX) {
		SL_WARN("GW-ADD", "gateway=%s left out: already %d gateways",
		    endpoint, CP_GWS_MAX);
		return 0;
	}
	l = cp_link_new(endpoint);
	if (!l)
		return SL_ENOMEM;
	l->listed = true;
	self->links[self->n++] = l;
	SL_NOTICE("GW-ADD", "gateway=%s gateways=%zu", endpoint, self->n);
	return 0;
}

/* sl_lines_fn: one spec of a --gateway value. */
static int
s_resolve_one(void *arg, char *spec, size_t len, char *why, size_t whylen)
{
	cp_gws_t *self = arg;
	char err[256];
	int rc = cp_resolve_spec(spec, s_listed, self, err, sizeof err);

	(void) len;
	if (rc == SL_EINVAL)
		snprintf(why, whylen, "%s", err);
	if (rc == SL_ESYS) {
		SL_WARN("GW-RESOLVE", "%s; trying again in %" PRId64 " ms",
		    err, self->retry_us / 1000);
		self->failed = true;
		return 0;
	}
	return rc;
}

int
cp_gws_resolve(
    cp_gws_t *self, cp_gws_drop_fn drop, void *arg, char *err, size_t errlen)
{
	int rc = 0;

	self->failed = false;
	for (size_t i = 0; i < self->n; i++)
		self->links[i]->listed = false;
	for (size_t i = 0; i < self->n_specs && !rc; i++)
		rc = sl_lines_csv(
		    self->specs[i], s_resolve_one, self, err, errlen);
	if (rc)
		return rc;
	for (size_t i = self->n; i-- > 0;) {
		if (self->links[i]->listed || self->failed)
			continue;
		drop(arg, self->links[i]);
		cp_link_destroy(&self->links[i]);
		self->links[i] = self->links[--self->n];
	}
	return 0;
}

cp_link_t *
cp_gws_of_gen(cp_gws_t *self, uint64_t gen)
{
	for (size_t i = 0; i < self->n; i++)
		if (self->links[i]->dealer && self->links[i]->gen == gen)
			return self->links[i];
	return NULL;
}

void
cp_gws_clear(cp_gws_t *self)
{
	for (size_t i = 0; i < self->n; i++)
		cp_link_destroy(&self->links[i]);
	self->n = 0;
}
