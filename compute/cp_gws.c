/*
 * cp_gws: the gateways a worker serves (see cp_gws.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "cp_gws.h"
#include "cp_resolve.h"
#include "sl_err.h"
#include "sl_lines.h"
#include "sl_log.h"

/* What one resolution is collecting into. */
typedef struct collect {
	cp_gws_list_t *list;
	int64_t every_us; /* for the GW-RESOLVE message */
} collect_t;

/* cp_resolve_fn: one resolved endpoint, once. */
static int
s_collect_ep(void *arg, const char *endpoint)
{
	cp_gws_list_t *list = arg;

	for (size_t i = 0; i < list->n; i++)
		if (!strcmp(list->ep[i], endpoint))
			return 0;
	if (list->n == CP_GWS_MAX) {
		SL_WARN("GW-ADD", "gateway=%s left out: already %d gateways",
		    endpoint, CP_GWS_MAX);
		return 0;
	}
	snprintf(list->ep[list->n++], sizeof list->ep[0], "%s", endpoint);
	return 0;
}

/* sl_lines_fn: one spec of a --gateway value. */
static int
s_collect_spec(void *arg, char *spec, size_t len, char *why, size_t whylen)
{
	collect_t *c = arg;
	char err[256];
	int rc = cp_resolve_spec(spec, s_collect_ep, c->list, err, sizeof err);

	(void) len;
	if (rc == SL_EINVAL)
		snprintf(why, whylen, "%s", err);
	if (rc == SL_ESYS) {
		SL_WARN("GW-RESOLVE", "%s; trying again in %" PRId64 " ms",
		    err, c->every_us / 1000);
		c->list->failed = true;
		return 0;
	}
	return rc;
}

/* Resolve every spec into list: 0, or SL_EINVAL / SL_ENOMEM with err. */
static int
s_collect(const char *const *specs, size_t n_specs, int64_t every_us,
    cp_gws_list_t *list, char *err, size_t errlen)
{
	collect_t c = { list, every_us };
	int rc = 0;

	list->n = 0;
	list->failed = false;
	for (size_t i = 0; i < n_specs && !rc; i++)
		rc = sl_lines_csv(specs[i], s_collect_spec, &c, err, errlen);
	return rc;
}

/* Make the links match list (the I/O thread). */
static void
s_apply(
    cp_gws_t *self, const cp_gws_list_t *list, cp_gws_drop_fn drop, void *arg)
{
	for (size_t i = 0; i < self->n; i++)
		self->links[i]->listed = false;
	for (size_t j = 0; j < list->n; j++) {
		size_t i = 0;

		while (i < self->n
		    && strcmp(self->links[i]->endpoint, list->ep[j]))
			i++;
		if (i < self->n) {
			self->links[i]->listed = true;
			continue;
		}
		if (self->n == CP_GWS_MAX
		    || !(self->links[self->n] = cp_link_new(list->ep[j]))) {
			SL_WARN("GW-ADD", "gateway=%s left out: %s",
			    list->ep[j],
			    self->n == CP_GWS_MAX ? "too many gateways"
			                          : "out of memory");
			continue;
		}
		self->links[self->n++]->listed = true;
		SL_NOTICE(
		    "GW-ADD", "gateway=%s gateways=%zu", list->ep[j], self->n);
	}
	self->failed = list->failed;
	for (size_t i = self->n; i-- > 0;) {
		if (self->links[i]->listed || list->failed)
			continue;
		if (drop)
			drop(arg, self->links[i]);
		cp_link_destroy(&self->links[i]);
		self->links[i] = self->links[--self->n];
	}
}

/* The resolver thread: resolve, hand over, wait every_us, again. */
static void *
s_resolver(void *arg)
{
	cp_gws_t *self = arg;
	const char *const *specs;
	size_t n_specs;
	char err[256];
	int rc;

	/* A name of its own: tools that look for compute threads (and
	 * operators reading top -H) tell it apart. */
	prctl(PR_SET_NAME, "cp-resolve", 0, 0, 0);
	pthread_mutex_lock(&self->lock);
	while (!self->stop) {
		struct timespec until;
		int64_t ns;

		clock_gettime(CLOCK_REALTIME, &until);
		ns = until.tv_nsec + (self->every_us % 1000000) * 1000;
		until.tv_sec
		    += (time_t) (self->every_us / 1000000 + ns / 1000000000);
		until.tv_nsec = (long) (ns % 1000000000);
		while (!self->stop
		    && pthread_cond_timedwait(&self->cond, &self->lock, &until)
		        != ETIMEDOUT)
			;
		if (self->stop)
			break;
		/* The lookup may take seconds: not under the lock. A malformed
		 * spec was refused at start, so only ENOMEM fails here. */
		specs
		    = self->specs; /* a new array may be set under the lock */
		n_specs = self->n_specs;
		pthread_mutex_unlock(&self->lock);
		rc = s_collect(specs, n_specs, self->every_us, &self->scratch,
		    err, sizeof err);
		pthread_mutex_lock(&self->lock);
		if (!rc) {
			self->next = self->scratch;
			self->fresh = true;
		}
	}
	pthread_mutex_unlock(&self->lock);
	return NULL;
}

int
cp_gws_init(cp_gws_t *self, const char *const *specs, size_t n_specs,
    int64_t every_us, char *err, size_t errlen)
{
	int rc;

	memset(self, 0, sizeof *self);
	self->specs = specs;
	self->n_specs = n_specs;
	self->every_us = every_us;
	pthread_mutex_init(&self->lock, NULL);
	pthread_cond_init(&self->cond, NULL);
	self->ready = true;
	/* No thread yet: next is free to use. */
	rc = s_collect(specs, n_specs, every_us, &self->next, err, errlen);
	if (!rc)
		s_apply(self, &self->next, NULL, NULL);
	return rc;
}

int
cp_gws_start(cp_gws_t *self)
{
	if (pthread_create(&self->thread, NULL, s_resolver, self))
		return SL_ESYS;
	self->started = true;
	return 0;
}

void
cp_gws_poll(cp_gws_t *self, cp_gws_drop_fn drop, void *arg)
{
	pthread_mutex_lock(&self->lock);
	if (self->fresh) {
		s_apply(self, &self->next, drop, arg);
		self->fresh = false;
	}
	pthread_mutex_unlock(&self->lock);
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
cp_gws_destroy(cp_gws_t *self)
{
	if (!self->ready)
		return;
	if (self->started) {
		pthread_mutex_lock(&self->lock);
		self->stop = true;
		pthread_cond_signal(&self->cond);
		pthread_mutex_unlock(&self->lock);
		pthread_join(self->thread, NULL);
		self->started = false;
	}
	for (size_t i = 0; i < self->n; i++)
		cp_link_destroy(&self->links[i]);
	self->n = 0;
	pthread_cond_destroy(&self->cond);
	pthread_mutex_destroy(&self->lock);
	self->ready = false;
}
