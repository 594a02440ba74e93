/*
 * sl_cfg: table-driven options (see sl_cfg.h). Main thread, at start.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sl_cfg.h"
#include "sl_err.h"
#include "sl_log.h"

/* Index of value in the comma separated list choices, or -1. */
static int
s_choice_index(const char *choices, const char *value)
{
	size_t vlen = strlen(value);
	const char *p = choices;
	int i = 0;

	while (*p) {
		size_t len = strcspn(p, ",");

		if (len == vlen && !strncmp(p, value, len))
			return i;
		p += len;
		if (*p == ',')
			p++;
		i++;
	}
	return -1;
}

/* The n-th entry of a comma separated list, copied into buf. */
static const char *
s_choice_name(const char *choices, int index, char *buf, size_t buflen)
{
	const char *p = choices;
	size_t len;

	while (index-- > 0 && *p) {
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	len = strcspn(p, ",");
	if (len >= buflen)
		len = buflen - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return buf;
}

static const char s_cli[] = "command line";

/* One more value of an SL_OPT_LIST: the command line's first replaces
 * what the default or the environment gave, its next ones add to it. */
static int
s_set_list(const sl_opt_t *o, sl_cfg_list_t *l, const char *value,
    const char *source, char *err, size_t errlen)
{
	int cli = source == s_cli;

	if (!*value) {
		snprintf(
		    err, errlen, "%s: --%s: empty value", source, o->name);
		return SL_EINVAL;
	}
	if (!cli || !l->from_cli)
		l->n = 0;
	l->from_cli = cli;
	if (l->n == SL_CFG_LIST_MAX) {
		snprintf(err, errlen, "%s: --%s: given more than %d times",
		    source, o->name, SL_CFG_LIST_MAX);
		return SL_EINVAL;
	}
	l->v[l->n++] = value;
	return 0;
}

/* Parse one value from one source into cfg; the one validation path. */
static int
s_set(const sl_opt_t *o, void *cfg, const char *value, const char *source,
    char *err, size_t errlen)
{
	char *base = cfg;
	char *end;
	long long v;
	int idx;

	switch (o->type) {
	case SL_OPT_INT:
		errno = 0;
		v = strtoll(value, &end, 10);
		if (errno || end == value || *end) {
			snprintf(err, errlen,
			    "%s: --%s: '%s' is not an integer", source,
			    o->name, value);
			return SL_EINVAL;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, errlen,
			    "%s: --%s: %lld is out of range %lld..%lld",
			    source, o->name, v, o->min, o->max);
			return SL_EINVAL;
		}
		memcpy(base + o->offset, &v, sizeof v);
		return 0;
	case SL_OPT_STR:
	case SL_OPT_SECRET:
		if (!*value) {
			snprintf(err, errlen, "%s: --%s: empty value", source,
			    o->name);
			return SL_EINVAL;
		}
		memcpy(base + o->offset, &value, sizeof value);
		return 0;
	case SL_OPT_BOOL:
		idx = s_choice_index("no,yes,false,true,0,1,off,on", value);
		if (idx < 0) {
			snprintf(err, errlen,
			    "%s: --%s: '%s' is not yes or no", source, o->name,
			    value);
			return SL_EINVAL;
		}
		idx %= 2;
		memcpy(base + o->offset, &idx, sizeof idx);
		return 0;
	case SL_OPT_ENUM:
		idx = s_choice_index(o->choices, value);
		if (idx < 0) {
			snprintf(err, errlen,
			    "%s: --%s: '%s' is not one of %s", source, o->name,
			    value, o->choices);
			return SL_EINVAL;
		}
		memcpy(base + o->offset, &idx, sizeof idx);
		return 0;
	case SL_OPT_LIST:
		return s_set_list(o,
		    (sl_cfg_list_t *) (void *) (base + o->offset), value,
		    source, err, errlen);
	}
	snprintf(err, errlen, "--%s: bad option table entry", o->name);
	return SL_EINVAL;
}

static const sl_opt_t *
s_find(const sl_opt_t *opts, size_t n, const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == len
		    && !strncmp(opts[i].name, name, len))
			return &opts[i];
	return NULL;
}

static void s_print_help(const sl_opt_t *opts, size_t n,
    const sl_cfg_info_t *info, const char *pos_usage, FILE *out);

int
sl_cfg_load(const sl_opt_t *opts, size_t n, void *cfg, int argc,
    char *const argv[], const sl_cfg_info_t *info, FILE *out, char *err,
    size_t errlen)
{
	return sl_cfg_load_pos(
	    opts, n, cfg, argc, argv, info, NULL, NULL, out, err, errlen);
}

int
sl_cfg_load_pos(const sl_opt_t *opts, size_t n, void *cfg, int argc,
    char *const argv[], const sl_cfg_info_t *info, const char *pos_usage,
    int *first_pos, FILE *out, char *err, size_t errlen)
{
	int rc;

	if (first_pos)
		*first_pos = argc;

	for (size_t i = 0; i < n; i++) {
		rc = s_set(&opts[i], cfg, opts[i].def, "default", err, errlen);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < n; i++) {
		const char *v = opts[i].env ? getenv(opts[i].env) : NULL;

		if (v
		    && (rc
		        = s_set(&opts[i], cfg, v, opts[i].env, err, errlen)))
			return rc;
	}
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq, *value;
		const sl_opt_t *o;

		/* Options come first; the first operand (anything but
		 * --name, -h, -V) or "--" ends them, so "-1" and, after
		 * "--", "--x" are operands. */
		if (first_pos && !strcmp(arg, "--")) {
			*first_pos = i + 1;
			break;
		}
		if (first_pos && strncmp(arg, "--", 2) && strcmp(arg, "-h")
		    && strcmp(arg, "-V")) {
			*first_pos = i;
			break;
		}
		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			s_print_help(opts, n, info, pos_usage, out);
			return SL_CFG_EXIT_OK;
		}
		if (!strcmp(arg, "--version") || !strcmp(arg, "-V")) {
			fprintf(out, "%s %s\n", info->prog, info->version);
			return SL_CFG_EXIT_OK;
		}
		if (strncmp(arg, "--", 2)) {
			snprintf(err, errlen,
			    "unexpected argument '%s' (see --help)", arg);
			return SL_EINVAL;
		}
		arg += 2;
		eq = strchr(arg, '=');
		o = s_find(
		    opts, n, arg, eq ? (size_t) (eq - arg) : strlen(arg));
		if (!o) {
			snprintf(err, errlen,
			    "unknown option '%s' (see --help)", argv[i]);
			return SL_EINVAL;
		}
		if (eq) {
			value = eq + 1;
		} else if (o->type == SL_OPT_BOOL) {
			value = "yes";
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			snprintf(
			    err, errlen, "option --%s needs a value", o->name);
			return SL_EINVAL;
		}
		if ((rc = s_set(o, cfg, value, s_cli, err, errlen)))
			return rc;
	}
	return SL_CFG_RUN;
}

void
sl_cfg_print_help(
    const sl_opt_t *opts, size_t n, const sl_cfg_info_t *info, FILE *out)
{
	s_print_help(opts, n, info, NULL, out);
}

static void
s_print_help(const sl_opt_t *opts, size_t n, const sl_cfg_info_t *info,
    const char *pos_usage, FILE *out)
{
	fprintf(out,
	    "%s %s: %s\n\nUsage: %s [OPTION]...%s%s\n\nOptions "
	    "(each also read from its environment variable; the "
	    "command line wins):\n",
	    info->prog, info->version, info->summary, info->prog,
	    pos_usage ? " " : "", pos_usage ? pos_usage : "");
	for (size_t i = 0; i < n; i++) {
		const sl_opt_t *o = &opts[i];

		const char *set = o->env ? getenv(o->env) : NULL;

		fprintf(out, "  --%s%s  (env %s, default %s)\n      %s",
		    o->name,
		    o->type == SL_OPT_INT        ? " N"
		        : o->type == SL_OPT_ENUM ? " WORD"
		        : o->type == SL_OPT_BOOL ? ""
		                                 : " VALUE",
		    o->env ? o->env : "-", o->def, o->help);
		if (o->type == SL_OPT_INT)
			fprintf(out, " [%lld..%lld]", o->min, o->max);
		else if (o->type == SL_OPT_ENUM)
			fprintf(out, " [%s]", o->choices);
		else if (o->type == SL_OPT_LIST)
			fprintf(out, " [may be given up to %d times]",
			    SL_CFG_LIST_MAX);
		/* What this environment already says, so that --help in a
		 * container shows the values in force (secrets hidden). */
		if (set && *set)
			fprintf(out, "\n      now: %s=%s", o->env,
			    o->type == SL_OPT_SECRET ? "(set)" : set);
		fputc('\n', out);
	}
	fprintf(out,
	    "  --help     print this help and exit\n"
	    "  --version  print the version and exit\n");
}

/* " name=a,b" for the CFG line (cut if it does not fit). */
static int
s_list_text(const sl_cfg_list_t *l, const char *name, char *buf, size_t len)
{
	int used = snprintf(buf, len, " %s=", name);

	for (size_t i = 0; i < l->n && used > 0 && (size_t) used < len; i++)
		used += snprintf(buf + used, len - (size_t) used, "%s%s",
		    i ? "," : "", l->v[i]);
	return used;
}

void
sl_cfg_log(const sl_opt_t *opts, size_t n, const void *cfg)
{
	const char *base = cfg;
	char item[600], line[720];
	size_t used = 0;

	line[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const sl_opt_t *o = &opts[i];
		char name[64];
		long long v;
		const char *s;
		int idx, rc = 0;

		switch (o->type) {
		case SL_OPT_INT:
			memcpy(&v, base + o->offset, sizeof v);
			rc = snprintf(
			    item, sizeof item, " %s=%lld", o->name, v);
			break;
		case SL_OPT_STR:
			memcpy(&s, base + o->offset, sizeof s);
			rc = snprintf(item, sizeof item, " %s=%s", o->name, s);
			break;
		case SL_OPT_SECRET:
			/* Never the value: the log may go anywhere. */
			memcpy(&s, base + o->offset, sizeof s);
			rc = snprintf(item, sizeof item, " %s=%s", o->name,
			    strcmp(s, "none") ? "(set)" : "none");
			break;
		case SL_OPT_BOOL:
			memcpy(&idx, base + o->offset, sizeof idx);
			rc = snprintf(item, sizeof item, " %s=%s", o->name,
			    idx ? "yes" : "no");
			break;
		case SL_OPT_ENUM:
			memcpy(&idx, base + o->offset, sizeof idx);
			rc = snprintf(item, sizeof item, " %s=%s", o->name,
			    s_choice_name(o->choices, idx, name, sizeof name));
			break;
		case SL_OPT_LIST:
			rc = s_list_text(
			    (const sl_cfg_list_t *) (const void *) (base
			        + o->offset),
			    o->name, item, sizeof item);
			break;
		}
		if (rc <= 0)
			continue;
		/* Long paths must not cut the line: continue on the next. */
		if (used && used + strlen(item) >= sizeof line) {
			SL_NOTICE("CFG", "effective configuration:%s", line);
			used = 0;
			line[0] = '\0';
		}
		used += (size_t) snprintf(
		    line + used, sizeof line - used, "%s", item);
		if (used >= sizeof line)
			used = sizeof line - 1;
	}
	SL_NOTICE("CFG", "effective configuration:%s", line);
}
