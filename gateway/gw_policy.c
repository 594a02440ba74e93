/*
 * gw_policy: tokens, origins and CURVE allow-lists (see gw_policy.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_policy.h"
#include "sl_err.h"
#include "sl_log.h"
#include "sl_zap.h"

struct gw_policy {
	gw_policy_cfg_t cfg;   /* copied; strings borrowed */
	gw_auth_t *auth;       /* in force; owned, replaced on reload */
	sl_zap_t *zap;         /* NULL: no CURVE; owned */
	sl_curve_keypair_t kp; /* the gateway's, with zap */
	bool curve_producers;  /* the producers endpoint has CURVE too */
};

/* The WebSocket side's policy from cfg; NULL with err on a bad token
 * file or list. */
static gw_auth_t *
s_auth_new(const gw_policy_cfg_t *cfg, char *err, size_t errlen)
{
	gw_auth_t *auth = gw_auth_new();
	char why[200];
	int rc = 0;

	if (!auth) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (cfg->tokens_file)
		rc = gw_auth_load_tokens_file(
		    auth, cfg->tokens_file, why, sizeof why);
	if (!rc && cfg->tokens)
		rc = gw_auth_add_tokens(auth, cfg->tokens, why, sizeof why);
	if (!rc && cfg->allow_origins)
		rc = gw_auth_add_origins(
		    auth, cfg->allow_origins, why, sizeof why);
	if (rc) {
		snprintf(err, errlen, "%s", why);
		gw_auth_destroy(&auth);
		return NULL;
	}
	if ((cfg->tokens_file || cfg->tokens) && !gw_auth_n_tokens(auth)) {
		snprintf(err, errlen, "tokens configured, but none found");
		gw_auth_destroy(&auth);
		return NULL;
	}
	gw_auth_set_allow_no_origin(auth, cfg->allow_no_origin);
	gw_auth_set_metrics_token(auth, cfg->metrics_token);
	return auth;
}

/* Give one ZAP domain (an endpoint) its allow-list and say so. */
static int
s_curve_allow(gw_policy_t *self, const char *domain, const char *file,
    const char *deny_id, char *err, size_t errlen)
{
	size_t n = 0;

	if (sl_zap_allow_file(
	        self->zap, domain, file, deny_id, &n, err, errlen))
		return SL_EINVAL;
	SL_NOTICE("GW-CURVE",
	    "%s endpoint: CURVE with server key %s, %zu allowed keys", domain,
	    self->kp.public_key, n);
	return 0;
}

/* Both allow-lists (the producers' if configured). */
static int
s_curve_allow_all(gw_policy_t *self, char *err, size_t errlen)
{
	if (s_curve_allow(self, "workers", self->cfg.curve_clients_file,
	        "WRK-DENIED", err, errlen))
		return SL_EINVAL;
	if (self->curve_producers
	    && s_curve_allow(self, "producers", self->cfg.curve_producers_file,
	        "PRD-DENIED", err, errlen))
		return SL_EINVAL;
	return 0;
}

/*
 * CURVE for the ZeroMQ endpoints: the key pair from the secret file, and
 * the ZAP handler with the allowed keys. 0 with no zap when CURVE is not
 * configured.
 */
static int
s_curve_setup(gw_policy_t *self, void *zctx, char *err, size_t errlen)
{
	const gw_policy_cfg_t *cfg = &self->cfg;
	char why[200];
	bool loose;

	if (!cfg->curve_secret_file && !cfg->curve_clients_file
	    && !cfg->curve_producers_file)
		return 0;
	/* Fail closed: CURVE without an allow-list would let any key in. */
	if (!cfg->curve_secret_file || !cfg->curve_clients_file) {
		snprintf(err, errlen,
		    "--curve-secret-file and --curve-clients-file go "
		    "together");
		return SL_EINVAL;
	}
	if (sl_curve_read_secret_file(
	        cfg->curve_secret_file, &self->kp, &loose, why, sizeof why)) {
		snprintf(err, errlen, "%s", why);
		return SL_EINVAL;
	}
	if (loose)
		SL_WARN("GW-INSECURE",
		    "%s is readable by other users: chmod 600 it",
		    cfg->curve_secret_file);
	self->curve_producers = cfg->curve_producers_file != NULL;
	self->zap = sl_zap_new(zctx, err, errlen);
	if (!self->zap)
		return SL_EINVAL;
	return s_curve_allow_all(self, err, errlen);
}

gw_policy_t *
gw_policy_new(const gw_policy_cfg_t *cfg, void *zctx, char *err, size_t errlen)
{
	gw_policy_t *self = calloc(1, sizeof *self);
	char why[200];

	if (!self) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	self->cfg = *cfg;
	self->auth = s_auth_new(cfg, why, sizeof why);
	if (!self->auth) {
		snprintf(err, errlen, "client authentication: %s", why);
		goto fail;
	}
	/* The ZAP handler must be bound before the endpoints exist. */
	if (s_curve_setup(self, zctx, why, sizeof why)) {
		snprintf(err, errlen, "CURVE: %s", why);
		goto fail;
	}
	return self;
fail:
	gw_policy_destroy(&self);
	return NULL;
}

void
gw_policy_destroy(gw_policy_t **self_p)
{
	gw_policy_t *self = *self_p;

	if (!self)
		return;
	gw_auth_destroy(&self->auth);
	sl_zap_destroy(&self->zap);
	free(self);
	*self_p = NULL;
}

void
gw_policy_reload(gw_policy_t *self)
{
	gw_auth_t *fresh;
	char err[300];

	fresh = s_auth_new(&self->cfg, err, sizeof err);
	if (!fresh) {
		SL_ERR("GW-RELOAD",
		    "tokens and origins not reloaded, the old ones stay: %s",
		    err);
	} else {
		gw_auth_carry_stats(fresh, self->auth);
		gw_auth_destroy(&self->auth);
		self->auth = fresh;
		SL_NOTICE("GW-RELOAD", "tokens=%zu origins=%zu",
		    gw_auth_n_tokens(fresh), gw_auth_n_origins(fresh));
	}
	if (!self->zap)
		return;
	if (s_curve_allow(self, "workers", self->cfg.curve_clients_file,
	        "WRK-DENIED", err, sizeof err))
		SL_ERR("GW-RELOAD",
		    "workers' allow-list not reloaded, the old one stays: %s",
		    err);
	if (self->curve_producers
	    && s_curve_allow(self, "producers", self->cfg.curve_producers_file,
	        "PRD-DENIED", err, sizeof err))
		SL_ERR("GW-RELOAD",
		    "producers' allow-list not reloaded, the old one stays: "
		    "%s",
		    err);
}

gw_auth_t *
gw_policy_auth(const gw_policy_t *self)
{
	return self ? self->auth : NULL;
}

const sl_curve_keypair_t *
gw_policy_curve(const gw_policy_t *self, const char *domain)
{
	if (!self->zap)
		return NULL;
	if (!strcmp(domain, "workers")
	    || (!strcmp(domain, "producers") && self->curve_producers))
		return &self->kp;
	return NULL;
}

void
gw_policy_stats(const gw_policy_t *self, gw_policy_stats_t *out)
{
	gw_auth_stats_t au;

	if (!self) {
		memset(out, 0, sizeof *out);
		return;
	}
	gw_auth_stats(self->auth, &au);
	out->denied_token = au.denied_token;
	out->denied_origin = au.denied_origin;
	out->tokens = gw_auth_n_tokens(self->auth);
	out->origins = gw_auth_n_origins(self->auth);
}
