/*
 * sl_cfg: one table of options per program, three sources, one parser.
 *
 * Each option has a long flag, a SLUICE_* environment variable, a default,
 * a range and help text. Precedence: default < environment < command line;
 * every source goes through the same parse-and-validate path, so a bad
 * environment value fails exactly like a bad flag. --help is printed from
 * the table. Main thread only, at start.
 */
#ifndef SL_CFG_H
#define SL_CFG_H

#include <stddef.h>
#include <stdio.h>

#include "sl_log.h" /* SL_LOG_*_NAMES for SL_CFG_OPTS_LOG */

typedef enum {
	SL_OPT_INT,  /* stored as long long, checked against min..max */
	SL_OPT_STR,  /* stored as const char * (borrowed: argv, environ or def)
	              */
	SL_OPT_BOOL, /* stored as int 0/1; a bare --flag means yes; values
	                yes/no, true/false, 1/0, on/off */
	SL_OPT_ENUM, /* stored as int: index into the comma separated choices
	              */
	SL_OPT_SECRET, /* like SL_OPT_STR, but sl_cfg_log() prints only
	                  whether it is set (tokens, keys) */
	SL_OPT_LIST, /* stored as sl_cfg_list_t: the flag may be given several
	                times (each adds an entry); the default or the
	                environment give one entry; an entry may itself be
	                comma separated (the caller splits it, sl_lines_csv) */
} sl_opt_type_t;

/* An SL_OPT_LIST's value: borrowed strings (argv, environ or default). */
#define SL_CFG_LIST_MAX 16
typedef struct sl_cfg_list {
	const char *v[SL_CFG_LIST_MAX];
	size_t n;
	int from_cli; /* entries came from the command line: a later flag
	                 adds one; otherwise it replaces them */
} sl_cfg_list_t;

typedef struct sl_opt {
	const char *name;    /* long flag without "--", e.g. "listen" */
	const char *env;     /* environment variable, e.g. "SLUICE_LISTEN" */
	sl_opt_type_t type;  /* how the value is parsed and stored */
	const char *def;     /* default, as text: it is parsed like the rest */
	long long min, max;  /* SL_OPT_INT: accepted range, inclusive */
	const char *choices; /* SL_OPT_ENUM: "a,b,c" */
	size_t offset;       /* offsetof() the field in the caller's struct */
	const char *help;    /* one line for --help */
} sl_opt_t;

/*
 * Rows that sluice-gateway and sluice-compute both offer: flag, variable,
 * type, default and range are spelled here once, so the two programs can
 * never disagree on them (an operator sets SLUICE_HB_INTERVAL_MS for both).
 * T is the caller's config struct and F its field; where the value means
 * something different on each side, the caller's HELP says what.
 */
#define SL_CFG_OPT_HB_INTERVAL_MS(T, F, HELP)                                 \
	{                                                                     \
		"hb-interval-ms", "SLUICE_HB_INTERVAL_MS", SL_OPT_INT,        \
		    "1000", 50, 60000, NULL, offsetof(T, F), HELP             \
	}
#define SL_CFG_OPT_HB_LIVENESS(T, F, HELP)                                    \
	{                                                                     \
		"hb-liveness", "SLUICE_HB_LIVENESS", SL_OPT_INT, "3", 2, 100, \
		    NULL, offsetof(T, F), HELP                                \
	}
#define SL_CFG_OPT_DRAIN_MS(T, F, HELP)                                       \
	{                                                                     \
		"drain-ms", "SLUICE_DRAIN_MS", SL_OPT_INT, "10000", 0,        \
		    3600000, NULL, offsetof(T, F), HELP                       \
	}
#define SL_CFG_OPT_CURVE_SECRET_FILE(T, F, HELP)                              \
	{                                                                     \
		"curve-secret-file", "SLUICE_CURVE_SECRET_FILE", SL_OPT_STR,  \
		    "none", 0, 0, NULL, offsetof(T, F), HELP                  \
	}
/* --log-level and --log-format (sl_log), the same in every program. */
#define SL_CFG_OPTS_LOG(T, LEVEL, FORMAT)                                     \
	{ "log-level", "SLUICE_LOG_LEVEL", SL_OPT_ENUM, "notice", 0, 0,       \
		SL_LOG_LEVEL_NAMES, offsetof(T, LEVEL),                       \
		"least severe log level printed" },                           \
	{                                                                     \
		"log-format", "SLUICE_LOG_FORMAT", SL_OPT_ENUM, "text", 0, 0, \
		    SL_LOG_FORMAT_NAMES, offsetof(T, FORMAT),                 \
		    "log lines as text or as one JSON object each"            \
	}

typedef struct sl_cfg_info {
	const char *prog;    /* "sluice-gateway" */
	const char *summary; /* one line: what the program does */
	const char *version; /* "0.1.0" */
} sl_cfg_info_t;

enum {
	SL_CFG_RUN = 0,     /* cfg is filled; go on */
	SL_CFG_EXIT_OK = 1, /* --help or --version was printed; exit 0 */
};

/*
 * Fill cfg from defaults, the environment and argv. Returns SL_CFG_RUN,
 * SL_CFG_EXIT_OK (help or version printed to out), or SL_EINVAL with a
 * message naming the option and its source in err.
 */
int sl_cfg_load(const sl_opt_t *opts, size_t n, void *cfg, int argc,
    char *const argv[], const sl_cfg_info_t *info, FILE *out, char *err,
    size_t errlen);

/*
 * The same for a program that takes operands after its options
 * (sluice-submit TASK ITEM...). Options come first: the first argument
 * that is not --name[=value], -h or -V (so "-1" is an operand), or the
 * one after "--", is the first operand; its index is stored in *first_pos
 * (argc when there are none). pos_usage ("TASK [ITEM]...") is shown by --help.
 * Without first_pos this is sl_cfg_load: operands are refused.
 */
int sl_cfg_load_pos(const sl_opt_t *opts, size_t n, void *cfg, int argc,
    char *const argv[], const sl_cfg_info_t *info, const char *pos_usage,
    int *first_pos, FILE *out, char *err, size_t errlen);

/* Print usage, one block per option, to out. */
void sl_cfg_print_help(
    const sl_opt_t *opts, size_t n, const sl_cfg_info_t *info, FILE *out);

/* Log the effective configuration once, as one CFG line. */
void sl_cfg_log(const sl_opt_t *opts, size_t n, const void *cfg);

#endif
