/*
 * sl_zap: ZAP handler thread with per-domain key allow-lists (see
 * sl_zap.h). The REP socket is created and bound by the caller's thread,
 * then used only by the handler thread (pthread_create is the memory
 * barrier ZeroMQ asks for when a socket changes threads).
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "sl_clock.h"
#include "sl_curve.h"
#include "sl_err.h"
#include "sl_lines.h"
#include "sl_log.h"
#include "sl_zap.h"

#define SL_ZAP_EP "inproc://zeromq.zap.01"
#define SL_ZAP_NAME_MAX 64
#define SL_ZAP_LOG_EVERY_US 10000000 /* one denial line per key per 10 s */
#define SL_ZAP_FRAMES 8              /* a CURVE request has 7 */

typedef struct sl_zap_key {
	uint8_t key[32];
	char name[SL_ZAP_NAME_MAX]; /* from the allow-list, for people */
} sl_zap_key_t;

typedef struct sl_zap_domain {
	char name[64];
	char deny_id[32];
	sl_zap_key_t *keys;
	size_t n_keys;
	uint8_t last_denied[32]; /* log rate limit */
	int64_t last_denied_us;
	unsigned suppressed;
} sl_zap_domain_t;

struct sl_zap {
	void *zctx;
	void *rep;        /* the handler's socket: handler thread only */
	pthread_t thread; /* the handler */
	bool started;
	pthread_mutex_t lock;
	sl_zap_domain_t *domains; /* {lock} */
	size_t n_domains;         /* {lock} */
	size_t allowed, denied;   /* {lock} */
};

static sl_zap_domain_t *
s_domain_find_locked(sl_zap_t *self, const char *name, size_t len)
{
	for (size_t i = 0; i < self->n_domains; i++)
		if (strlen(self->domains[i].name) == len
		    && !memcmp(self->domains[i].name, name, len))
			return &self->domains[i];
	return NULL;
}

/* The decision for one request; the caller holds the lock. */
static bool
s_check_locked(
    sl_zap_t *self, zmq_msg_t *f, size_t n, char *user, size_t userlen)
{
	sl_zap_domain_t *d;
	char z85[SL_CURVE_KEY_LEN], addr[64];
	const uint8_t *key;
	int64_t now;

	user[0] = '\0';
	if (n < 7 || zmq_msg_size(&f[5]) != 5
	    || memcmp(zmq_msg_data(&f[5]), "CURVE", 5)
	    || zmq_msg_size(&f[6]) != 32)
		return false; /* only CURVE clients are ever allowed */
	key = zmq_msg_data(&f[6]);
	d = s_domain_find_locked(
	    self, zmq_msg_data(&f[2]), zmq_msg_size(&f[2]));
	if (d)
		for (size_t i = 0; i < d->n_keys; i++)
			if (!memcmp(d->keys[i].key, key, 32)) {
				/* The User-Id is the key itself, never the
				 * name (names need not be unique): the
				 * gateway binds routing ids to it. */
				if (userlen >= SL_CURVE_KEY_LEN)
					zmq_z85_encode(user, key, 32);
				return true;
			}
	zmq_z85_encode(z85, key, 32);
	snprintf(addr, sizeof addr, "%.*s",
	    (int) (zmq_msg_size(&f[3]) < 63 ? zmq_msg_size(&f[3]) : 63),
	    (const char *) zmq_msg_data(&f[3]));
	now = sl_clock_mono_us();
	if (d && !memcmp(d->last_denied, key, 32)
	    && now - d->last_denied_us < SL_ZAP_LOG_EVERY_US) {
		d->suppressed++;
		return false;
	}
	sl_log_emit(SL_LOG_WARN, d ? d->deny_id : "ZAP-DENIED",
	    "key=%.8s... address=%s domain=%.*s reason=%s repeats=%u", z85,
	    addr, (int) zmq_msg_size(&f[2]),
	    (const char *) zmq_msg_data(&f[2]),
	    d ? "unknown_key" : "no_allow_list", d ? d->suppressed : 0);
	if (d) {
		memcpy(d->last_denied, key, 32);
		d->last_denied_us = now;
		d->suppressed = 0;
	}
	return false;
}

static void
s_reply(void *rep, zmq_msg_t *req_id, bool ok, const char *user)
{
	const char *status = ok ? "200" : "400";
	const char *text = ok ? "OK" : "key not allowed";

	zmq_send(rep, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(rep, zmq_msg_data(req_id), zmq_msg_size(req_id), ZMQ_SNDMORE);
	zmq_send(rep, status, 3, ZMQ_SNDMORE);
	zmq_send(rep, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(rep, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(rep, "", 0, 0);
}

static void *
s_run(void *arg)
{
	sl_zap_t *self = arg;

	for (;;) {
		zmq_msg_t f[SL_ZAP_FRAMES];
		char user[SL_ZAP_USER_ID_MAX + 1] = "";
		size_t n = 0;
		int more = 1;
		bool ok;

		/* One request: up to SL_ZAP_FRAMES frames, the rest read
		 * and dropped (never from a peer: libzmq builds them). */
		while (more) {
			zmq_msg_t m;
			size_t sz = sizeof more;

			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, self->rep, 0) < 0) {
				zmq_msg_close(&m);
				for (size_t i = 0; i < n; i++)
					zmq_msg_close(&f[i]);
				if (errno == EINTR)
					goto next;
				goto out; /* ETERM: sl_zap_destroy */
			}
			zmq_getsockopt(self->rep, ZMQ_RCVMORE, &more, &sz);
			if (n < SL_ZAP_FRAMES)
				f[n++] = m;
			else
				zmq_msg_close(&m);
		}
		if (n < 2 || zmq_msg_size(&f[0]) != 3
		    || memcmp(zmq_msg_data(&f[0]), "1.0", 3)) {
			ok = false; /* malformed: answer anyway, REP needs it
			             */
		} else {
			pthread_mutex_lock(&self->lock);
			ok = s_check_locked(self, f, n, user, sizeof user);
			if (ok)
				self->allowed++;
			else
				self->denied++;
			pthread_mutex_unlock(&self->lock);
		}
		if (n >= 2)
			s_reply(self->rep, &f[1], ok, user);
		else
			s_reply(self->rep, &f[0], false, "");
		for (size_t i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
	next:;
	}
out:
	zmq_close(self->rep);
	self->rep = NULL;
	return NULL;
}

sl_zap_t *
sl_zap_new(void *zctx, char *err, size_t errlen)
{
	sl_zap_t *self = calloc(1, sizeof *self);
	int zero = 0;

	if (!self) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	self->zctx = zctx;
	pthread_mutex_init(&self->lock, NULL);
	self->rep = zmq_socket(zctx, ZMQ_REP);
	if (!self->rep
	    || zmq_setsockopt(self->rep, ZMQ_LINGER, &zero, sizeof zero)
	    || zmq_bind(self->rep, SL_ZAP_EP)) {
		snprintf(err, errlen, "ZAP handler on %s: %s", SL_ZAP_EP,
		    zmq_strerror(errno));
		goto fail;
	}
	if (pthread_create(&self->thread, NULL, s_run, self)) {
		snprintf(err, errlen, "ZAP handler thread: cannot start");
		goto fail;
	}
	self->started = true;
	return self;
fail:
	if (self->rep)
		zmq_close(self->rep);
	pthread_mutex_destroy(&self->lock);
	free(self);
	return NULL;
}

/* Parse "KEY [name]" (trimmed, non-empty, not a comment) into k. */
static int
s_parse_line(char *s, sl_zap_key_t *k, char *why, size_t whylen)
{
	char *name = s;

	while (*name && !isspace((unsigned char) *name))
		name++;
	if (*name)
		*name++ = '\0';
	while (*name && isspace((unsigned char) *name))
		name++;
	if (!sl_curve_key_valid(s)) {
		snprintf(why, whylen, "not a Z85 public key (40 characters)");
		return SL_EINVAL;
	}
	zmq_z85_decode(k->key, s);
	if (strlen(name) >= sizeof k->name) {
		snprintf(
		    why, whylen, "name over %zu bytes", sizeof k->name - 1);
		return SL_EINVAL;
	}
	/* Unnamed: the key's first 8 characters stand for it. */
	snprintf(
	    k->name, sizeof k->name, "%.*s", *name ? 63 : 8, *name ? name : s);
	return 0;
}

/* The keys of one allow-list file, as it is read. */
typedef struct sl_zap_list {
	sl_zap_key_t *keys;
	size_t n;
} sl_zap_list_t;

/* sl_lines_fn: one "KEY [name]" line into the list. */
static int
s_add_key_line(void *arg, char *s, size_t len, char *why, size_t whylen)
{
	sl_zap_list_t *l = arg;
	sl_zap_key_t *k = realloc(l->keys, (l->n + 1) * sizeof *k);
	int rc;

	(void) len;
	if (!k) {
		snprintf(why, whylen, "out of memory");
		return SL_ENOMEM;
	}
	l->keys = k;
	if ((rc = s_parse_line(s, &l->keys[l->n], why, whylen)))
		return rc;
	l->n++;
	return 0;
}

int
sl_zap_allow_file(sl_zap_t *self, const char *domain, const char *path,
    const char *deny_id, size_t *n_keys, char *err, size_t errlen)
{
	sl_zap_list_t list = { NULL, 0 };
	sl_zap_domain_t *d, *v;
	int rc;

	/* A key, a name and room for white space around them. */
	rc = sl_lines_read(path, 254, s_add_key_line, &list, err, errlen);
	if (rc)
		goto out;
	pthread_mutex_lock(&self->lock);
	d = s_domain_find_locked(self, domain, strlen(domain));
	if (!d) {
		v = realloc(self->domains, (self->n_domains + 1) * sizeof *v);
		if (!v) {
			pthread_mutex_unlock(&self->lock);
			rc = SL_ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		self->domains = v;
		d = &v[self->n_domains++];
		memset(d, 0, sizeof *d);
		snprintf(d->name, sizeof d->name, "%s", domain);
	}
	snprintf(d->deny_id, sizeof d->deny_id, "%s", deny_id);
	free(d->keys);
	d->keys = list.keys;
	d->n_keys = list.n;
	list.keys = NULL;
	pthread_mutex_unlock(&self->lock);
	if (n_keys)
		*n_keys = d->n_keys;
out:
	free(list.keys);
	return rc;
}

void
sl_zap_counts(sl_zap_t *self, size_t *allowed, size_t *denied)
{
	pthread_mutex_lock(&self->lock);
	*allowed = self->allowed;
	*denied = self->denied;
	pthread_mutex_unlock(&self->lock);
}

void
sl_zap_destroy(sl_zap_t **self_p)
{
	sl_zap_t *self = self_p ? *self_p : NULL;

	if (!self)
		return;
	if (self->started) {
		zmq_ctx_shutdown(self->zctx);
		pthread_join(self->thread, NULL);
	}
	for (size_t i = 0; i < self->n_domains; i++)
		free(self->domains[i].keys);
	free(self->domains);
	pthread_mutex_destroy(&self->lock);
	free(self);
	*self_p = NULL;
}
