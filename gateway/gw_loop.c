/*
 * gw_loop: poll or libuv under lws (see gw_loop.h). Main thread.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "gw_loop.h"
#include "sl_log.h"

/* Turns of a closing libuv loop before lws is assumed stuck. */
#define GW_LOOP_CLOSE_TURNS 100000

struct gw_loop {
	int kind;
	bool uv_ready; /* uv is initialised */
	uv_loop_t uv;  /* GW_LOOP_UV: ours, lws's "foreign" loop */
	void *foreign[1];
};

gw_loop_t *
gw_loop_new(int kind, const char *plugin, char *err, size_t errlen)
{
	gw_loop_t *self = calloc(1, sizeof *self);
	void *dl;

	if (!self) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	self->kind = kind;
	if (kind != GW_LOOP_UV)
		return self;
	/* lws would only log "failed to load" and refuse the context: say
	 * what is missing and what else works, before anything starts. */
	dl = dlopen(
	    plugin ? plugin : GW_LOOP_UV_PLUGIN, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(err, errlen,
		    "--event-lib uv: cannot load lws's libuv plugin (%s; "
		    "Debian package libwebsockets-evlib-uv): %s; install it "
		    "or use --event-lib poll",
		    plugin ? plugin : GW_LOOP_UV_PLUGIN, dlerror());
		free(self);
		return NULL;
	}
	dlclose(dl);
	if (uv_loop_init(&self->uv)) {
		snprintf(err, errlen, "--event-lib uv: cannot start a loop");
		free(self);
		return NULL;
	}
	self->uv_ready = true;
	return self;
}

const char *
gw_loop_name(const gw_loop_t *self)
{
	return self->kind == GW_LOOP_UV ? "uv" : "poll";
}

void
gw_loop_prepare(gw_loop_t *self, struct lws_context_creation_info *ci,
    struct lws_context **pctx)
{
	if (self->kind != GW_LOOP_UV)
		return;
	ci->options |= LWS_SERVER_OPTION_LIBUV;
	/* lws reads the array during lws_create_context only */
	self->foreign[0] = &self->uv;
	ci->foreign_loops = self->foreign;
	ci->pcontext = pctx;
}

int
gw_loop_turn(gw_loop_t *self, struct lws_context *ctx)
{
	if (self->kind != GW_LOOP_UV)
		return lws_service(ctx, 0);
	/* Blocks until a descriptor, a timer or lws_cancel_service's pipe:
	 * then gw_gateway_run looks at its signals, as after lws_service. */
	uv_run(&self->uv, UV_RUN_ONCE);
	return 0;
}

void
gw_loop_destroy_context(gw_loop_t *self, struct lws_context **pctx)
{
	int turns = 0;

	if (!*pctx)
		return;
	lws_context_destroy(*pctx);
	if (self->kind != GW_LOOP_UV) {
		*pctx = NULL;
		return;
	}
	/* On a foreign loop lws closes its handles asynchronously: turn the
	 * loop until they are closed, then finish the context (lws 4.1.6
	 * leaves the last step to a second call when its static handles
	 * close after its connections). */
	while (
	    uv_run(&self->uv, UV_RUN_NOWAIT) && turns++ < GW_LOOP_CLOSE_TURNS)
		;
	if (*pctx)
		lws_context_destroy(*pctx);
	while (
	    uv_run(&self->uv, UV_RUN_NOWAIT) && turns++ < GW_LOOP_CLOSE_TURNS)
		;
	if (*pctx)
		SL_WARN("GW-LOOP", "lws context not finished after %d turns",
		    turns);
	*pctx = NULL;
}

void
gw_loop_destroy(gw_loop_t **self_p)
{
	gw_loop_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	if (self->uv_ready && uv_loop_close(&self->uv))
		SL_WARN("GW-LOOP", "libuv loop still has handles at exit");
	free(self);
	*self_p = NULL;
}
