/*
 * gw_resume: resume tokens and the logs of finished items (see
 * gw_resume.h). lws service thread.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <msgpack.h>

#include "gw_resume.h"
#include "sl_err.h"
#include "sl_log.h"

/* One finished item, as it was sent. */
typedef struct s_rec {
	uint32_t seq;
	bool ok;            /* a result (else an item error) */
	bool timing;        /* with where its time went */
	gw_out_timing_t tm; /* ... that */
	size_t size;        /* what it costs the budget */
	size_t len;         /* ok: msgpack bytes of the value in data */
	char *code;         /* !ok: in data, NUL-terminated */
	char *message;      /* !ok: in data, after code */
	char data[];
} s_rec_t;

struct gw_resume {
	s_rec_t **recs; /* in the order the items finished */
	size_t n, cap;
	bool off;            /* its log was over the budget: not resumable */
	bool doomed;         /* ... while detached: ends at the next tick */
	bool finished;       /* detached and done: waits for a resume */
	int64_t detached_us; /* monotonic; 0: its client is here */
	char token[GW_RESUME_TOKEN_LEN + 1];
	size_t n_items; /* items of the request: most seqs in have */
	uint32_t *have; /* seqs the resuming client holds, sorted */
	size_t n_have;
};

static int
s_token_new(char out[GW_RESUME_TOKEN_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[GW_RESUME_TOKEN_BYTES];

	/* Blocking until the pool is ready: a token must never be weak. */
	if (getrandom(raw, sizeof raw, 0) != (ssize_t) sizeof raw)
		return SL_ESYS;
	for (size_t i = 0; i < sizeof raw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[GW_RESUME_TOKEN_LEN] = '\0';
	return 0;
}

bool
gw_resume_token_eq(const gw_resume_t *self, const char *tok, size_t len)
{
	static const char nobody[GW_RESUME_TOKEN_LEN + 1];
	const char *held = self && !self->off ? self->token : nobody;
	unsigned char diff = len != GW_RESUME_TOKEN_LEN || held == nobody;

	/* Always every byte of ours: how far a guess matches stays hidden. */
	for (size_t i = 0; i < GW_RESUME_TOKEN_LEN; i++)
		diff |= (unsigned char) held[i]
		    ^ (unsigned char) (i < len ? tok[i] : 0);
	return diff == 0;
}

gw_resume_t *
gw_resume_new(size_t n_items, int *rc)
{
	gw_resume_t *self = calloc(1, sizeof *self);

	*rc = self ? s_token_new(self->token) : SL_ENOMEM;
	if (*rc) {
		free(self);
		return NULL;
	}
	self->n_items = n_items;
	return self;
}

/* Forget the log, giving its bytes back. */
static void
s_log_free(gw_resume_t *self, gw_resume_budget_t *b)
{
	for (size_t i = 0; i < self->n; i++) {
		b->used -= self->recs[i]->size;
		free(self->recs[i]);
	}
	free(self->recs);
	self->recs = NULL;
	self->n = self->cap = 0;
}

void
gw_resume_destroy(gw_resume_t **self_p, gw_resume_budget_t *b)
{
	gw_resume_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	s_log_free(self, b);
	free(self->have);
	free(self);
	*self_p = NULL;
}

bool
gw_resume_ok(const gw_resume_t *self)
{
	return !self->off;
}

const char *
gw_resume_token(const gw_resume_t *self)
{
	return self->token;
}

/* A record of f, its bytes counted; NULL on ENOMEM. */
static s_rec_t *
s_rec_new(const gw_out_t *f)
{
	bool ok = f->type == GW_OUT_RESULT;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	size_t lc = ok ? 0 : strlen(f->code) + 1;
	size_t lm = ok ? 0 : strlen(f->message) + 1;
	s_rec_t *rec = NULL;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (ok
	    && (f->value.mp ? msgpack_pack_object(&pk, *f->value.mp)
	                    : msgpack_pack_nil(&pk)))
		goto done;
	rec = malloc(sizeof *rec + sb.size + lc + lm);
	if (!rec)
		goto done;
	*rec = (s_rec_t) { .seq = f->seq,
		.ok = ok,
		.timing = f->timing,
		.tm = f->tm,
		.size = sizeof *rec + sizeof(s_rec_t *) + sb.size + lc + lm,
		.len = sb.size };
	if (sb.size)
		memcpy(rec->data, sb.data, sb.size);
	if (!ok) {
		rec->code = rec->data;
		rec->message = rec->data + lc;
		memcpy(rec->code, f->code, lc);
		memcpy(rec->message, f->message, lm);
	}
done:
	msgpack_sbuffer_destroy(&sb);
	return rec;
}

/* Keep rec: 0, or SL_EFULL (over the budget) or SL_ENOMEM; rec is
 * freed then. */
static int
s_add(gw_resume_t *self, gw_resume_budget_t *b, s_rec_t *rec)
{
	if (b->used + rec->size > b->max) {
		free(rec);
		return SL_EFULL;
	}
	if (self->n == self->cap) {
		size_t cap = self->cap ? 2 * self->cap : 16;
		s_rec_t **recs = realloc(self->recs, cap * sizeof *recs);

		if (!recs) {
			free(rec);
			return SL_ENOMEM;
		}
		self->recs = recs;
		self->cap = cap;
	}
	self->recs[self->n++] = rec;
	b->used += rec->size;
	b->bytes += rec->size;
	return 0;
}

static int
s_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

	return x < y ? -1 : x > y;
}

/* Seqs are the client's (submit's seqs): any 32-bit values. */
static bool
s_has(const gw_resume_t *self, uint32_t seq)
{
	return self->n_have
	    && bsearch(&seq, self->have, self->n_have, sizeof seq, s_cmp_u32);
}

bool
gw_resume_on_item(
    gw_resume_t *self, gw_resume_budget_t *b, const gw_out_t *f, bool detached)
{
	s_rec_t *rec;
	int rc;

	if (self->off || self->doomed)
		return true;
	rec = s_rec_new(f);
	rc = rec ? s_add(self, b, rec) : SL_ENOMEM;
	if (rc) {
		b->full++;
		/* The client's token is worthless from now on: say so. */
		SL_WARN("RESUME-FULL",
		    "req=%s items=%zu bytes=%zu max=%zu: %s, %s", f->id,
		    self->n_items, b->used, b->max,
		    rc == SL_EFULL ? "over --max-resume-bytes"
		                   : "out of memory",
		    detached ? "cancelled" : "no longer resumable");
		if (detached)
			self->doomed = true;
		else {
			self->off = true;
			s_log_free(self, b);
		}
	}
	return !s_has(self, f->seq);
}

void
gw_resume_detach(gw_resume_t *self, int64_t now_us)
{
	self->detached_us = now_us ? now_us : 1;
}

bool
gw_resume_expired(const gw_resume_t *self, int64_t now_us, int64_t window_us)
{
	return self->doomed || now_us - self->detached_us >= window_us;
}

void
gw_resume_finish(gw_resume_t *self)
{
	self->finished = true;
}

bool
gw_resume_finished(const gw_resume_t *self)
{
	return self->finished;
}

size_t
gw_resume_count(const gw_resume_t *self)
{
	return self->n;
}

/* Send every record whose seq the client lacks; how many. */
static size_t
s_replay(const gw_resume_t *self, const char *id,
    int (*send)(void *ctx, const gw_out_t *f), void *ctx)
{
	size_t sent = 0;

	for (size_t i = 0; i < self->n; i++) {
		const s_rec_t *rec = self->recs[i];
		gw_out_t f = { .type = GW_OUT_ITEM_ERROR,
			.id = id,
			.seq = rec->seq,
			.code = rec->code,
			.message = rec->message,
			.timing = rec->timing,
			.tm = rec->tm };
		msgpack_unpacked up;
		int rc;

		if (s_has(self, rec->seq))
			continue;
		msgpack_unpacked_init(&up);
		if (rec->ok) {
			/* Our own bytes: they unpack. */
			msgpack_unpack_next(&up, rec->data, rec->len, NULL);
			f = (gw_out_t) { .type = GW_OUT_RESULT,
				.id = id,
				.seq = rec->seq,
				.value.mp = &up.data,
				.timing = rec->timing,
				.tm = rec->tm };
		}
		rc = send(ctx, &f);
		msgpack_unpacked_destroy(&up);
		if (rc < 0)
			break;
		sent++;
	}
	return sent;
}

size_t
gw_resume_take(gw_resume_t *self, const uint32_t *have, size_t n_have,
    const char *id, int (*send)(void *ctx, const gw_out_t *f), void *ctx)
{
	uint32_t *copy = NULL;

	/* More seqs than items cannot help (the edge bounds them by
	 * max_items): keep the first n_items. On ENOMEM the client gets
	 * some items twice, never one less. */
	if (n_have > self->n_items)
		n_have = self->n_items;
	if (n_have && (copy = malloc(n_have * sizeof *copy))) {
		memcpy(copy, have, n_have * sizeof *copy);
		qsort(copy, n_have, sizeof *copy, s_cmp_u32);
	}
	free(self->have);
	self->have = copy;
	self->n_have = copy ? n_have : 0;
	self->detached_us = 0;
	return s_replay(self, id, send, ctx);
}
