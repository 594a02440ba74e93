/*
 * sluice-submit: a command-line producer. Submits TASK on every ITEM (JSON
 * values; JSON lines on stdin when no ITEM is given) to a gateway's
 * producers endpoint (docs/PROTOCOL.md §3) and prints each result as one
 * JSON line the moment it arrives. On a terminal, stderr shows a progress
 * bar (done/total, rate, ETA) and the progress the running items report
 * (sub_items); --progress lines prints each progress frame as a line
 * instead. An item's partial values (revision 7) are printed on stdout
 * as JSON lines the moment they arrive, like results (--partials).
 * --timeout and Ctrl-C send cancel and exit.
 * --notify CHANNEL lets the channel's subscribers watch the request.
 * --have FILE (what an earlier run printed) submits only the items not
 * in it, with their seqs, so a run cut short by a lost gateway finishes
 * on another one with every item exactly once. --timing makes each line
 * say where its item's time went (queue_us, start_us, run_us, worker,
 * attempts) and stderr name the request's traceparent (--traceparent
 * gives one), to find its items in the gateway's and workers' logs.
 *
 * Exit status: 0 every item ok, 1 some items failed, 2 bad usage, 3 the
 * request was refused or the gateway did not answer, 4 --timeout passed,
 * 5 --gateway is a gateway's workers endpoint (it answers wrong_endpoint),
 * 130 interrupted. It lives in gateway/ because it speaks the gateway's
 * producer protocol and shares common/ (sl_cfg, sl_json, sl_proto).
 * One thread.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <jansson.h>
#include <msgpack.h>
#include <zmq.h>

#include "gw_cmsg.h" /* GW_CMSG_MAX_ID: the gateway's request id limit */
#include "sl_cfg.h"
#include "sl_clock.h"
#include "sl_json.h"
#include "sl_proto.h"
#include "sub_items.h"

#define SUB_PING_US 5000000LL /* gateway forgets producers silent 15 s */
#define SUB_SILENT_US (3 * SUB_PING_US) /* no frame at all: give up */
#define SUB_BAR_US 100000LL             /* redraw the bar this often */

enum {
	EXIT_OK = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_REFUSED = 3,
	EXIT_TIMEOUT = 4,
	EXIT_WRONG_ENDPOINT = 5,
	EXIT_INTERRUPTED = 130,
};

/* After --help's option list (sl_cfg prints that part). */
static const char s_exit_help[]
    = "Exit status:\n"
      "  0    every item ended ok\n"
      "  1    some items failed (their errors are printed as JSON lines)\n"
      "  2    bad usage\n"
      "  3    the request was refused, or the gateway did not answer\n"
      "  4    --timeout passed (the request is cancelled)\n"
      "  5    --gateway is a gateway's workers endpoint, not its producers\n"
      "       endpoint (5555 vs 5556 by default)\n"
      "  130  interrupted (the request is cancelled)\n";

typedef struct sub_cfg {
	const char *gateway;
	long long timeout_ms; /* 0: none */
	const char *id;
	const char
	    *notify;      /* channel watchers see it on; "none": no channel */
	int progress;     /* auto,yes,no,lines */
	const char *have; /* an earlier run's output; "none" */
	int timing;       /* results say where their time went */
	const char *traceparent; /* W3C traceparent to send; "none" */
	int partials;            /* print partial frames on stdout */
} sub_cfg_t;

static const sl_opt_t s_opts[] = {
	{ "gateway", "SLUICE_PRODUCERS", SL_OPT_STR, "tcp://127.0.0.1:5556", 0,
	    0, NULL, offsetof(sub_cfg_t, gateway),
	    "the gateway's producers endpoint (its workers endpoint is "
	    "refused: exit 5)" },
	{ "timeout", "SLUICE_SUBMIT_TIMEOUT", SL_OPT_INT, "0", 0, 86400000,
	    NULL, offsetof(sub_cfg_t, timeout_ms),
	    "ms until the request is cancelled and we exit 4 (0: never)" },
	{ "id", "SLUICE_SUBMIT_ID", SL_OPT_STR, "submit", 0, 0, NULL,
	    offsetof(sub_cfg_t, id), "request id (1..64 bytes)" },
	{ "notify", "SLUICE_SUBMIT_NOTIFY", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(sub_cfg_t, notify),
	    "channel whose subscribers watch the request (none: no channel, "
	    "so a channel named \"none\" cannot be used from here)" },
	{ "progress", "SLUICE_SUBMIT_PROGRESS", SL_OPT_ENUM, "auto", 0, 0,
	    "auto,yes,no,lines", offsetof(sub_cfg_t, progress),
	    "progress on stderr: a bar with the running items' progress "
	    "(auto: when stderr is a terminal), or lines: one line "
	    "'progress ID SEQ FRACTION [TEXT]' per progress frame" },
	{ "have", "SLUICE_SUBMIT_HAVE", SL_OPT_STR, "none", 0, 0, NULL,
	    offsetof(sub_cfg_t, have),
	    "JSON lines an earlier run of the same items printed: their "
	    "seqs are not submitted again, the others go with their seqs "
	    "(none: submit every item)" },
	{ "timing", "SLUICE_SUBMIT_TIMING", SL_OPT_BOOL, "no", 0, 0, NULL,
	    offsetof(sub_cfg_t, timing),
	    "each line also says where its item's time went (queue_us, "
	    "start_us, run_us, worker, attempts); stderr names the request's "
	    "traceparent" },
	{ "traceparent", "SLUICE_SUBMIT_TRACEPARENT", SL_OPT_STR, "none", 0, 0,
	    NULL, offsetof(sub_cfg_t, traceparent),
	    "W3C traceparent for the request (00-<32 hex>-<16 hex>-<2 hex>; "
	    "none: the gateway makes one)" },
	{ "partials", "SLUICE_SUBMIT_PARTIALS", SL_OPT_BOOL, "yes", 0, 0, NULL,
	    offsetof(sub_cfg_t, partials),
	    "print each partial value (type partial, with seq and index) "
	    "as a JSON line on stdout the moment it arrives" },
};
#define N_OPTS (sizeof s_opts / sizeof s_opts[0])

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal(int sig)
{
	(void) sig;
	s_interrupted = 1;
}

typedef struct sub {
	void *sock;
	const char *id;
	const char *gateway; /* the endpoint, for messages */
	size_t total, ok, failed;
	int64_t t0_us, bar_at_us;
	bool bar;
	bool lines;          /* a line on stderr per progress frame */
	bool partials;       /* partial frames printed on stdout */
	bool timing;         /* name the traceparent on stderr */
	sub_items_t running; /* the running items' progress, for the bar */
} sub_t;

/* Send a JSON value as one msgpack frame. */
static int
s_send(sub_t *s, json_t *msg)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rc = msg ? sl_json_to_mp(msg, &pk, 32) : -1;
	if (!rc && zmq_send(s->sock, sb.data, sb.size, 0) < 0)
		rc = -1;
	msgpack_sbuffer_destroy(&sb);
	json_decref(msg);
	return rc;
}

/* Columns of the terminal on stderr (80 when it does not say). */
static size_t
s_columns(void)
{
	struct winsize ws;

	if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* The first max_cols characters of s (UTF-8; one column each). */
static void
s_fit(char *s, size_t max_cols)
{
	size_t cols = 0;

	for (char *p = s; *p; p++) {
		if (((unsigned char) *p & 0xc0) == 0x80)
			continue;
		if (cols++ == max_cols) {
			*p = '\0';
			return;
		}
	}
}

static void
s_draw_bar(sub_t *s, bool final)
{
	size_t done = s->ok + s->failed, width = 30, fill, len;
	double secs = (double) (sl_clock_mono_us() - s->t0_us) / 1e6;
	double rate = secs > 0 ? (double) done / secs : 0;
	char line[512];

	if (!s->bar)
		return;
	fill = s->total ? width * done / s->total : 0;
	line[0] = '[';
	for (size_t i = 0; i < width; i++)
		line[1 + i] = i < fill ? '#' : '.';
	len = 1 + width;
	len += (size_t) snprintf(
	    line + len, sizeof line - len, "] %zu/%zu", done, s->total);
	if (s->failed)
		len += (size_t) snprintf(
		    line + len, sizeof line - len, " (%zu failed)", s->failed);
	len += (size_t) snprintf(
	    line + len, sizeof line - len, " %.1f/s", rate);
	if (rate > 0 && s->total > done)
		len += (size_t) snprintf(line + len, sizeof line - len,
		    " ETA %.0fs", (double) (s->total - done) / rate);
	if (!final && len + 1 < sizeof line)
		sub_items_format(&s->running, line + len, sizeof line - len);
	/* a line that wraps could not be redrawn in place with \r */
	s_fit(line, s_columns() - 1);
	fprintf(stderr, "\r%s\033[K%s", line, final ? "\n" : "");
	fflush(stderr);
}

/* A line on stdout (a result, an item error, a partial value), above
 * the bar. */
static void
s_print(sub_t *s, json_t *f)
{
	char *text = json_dumps(f, JSON_COMPACT);

	if (s->bar)
		fprintf(stderr, "\r\033[K");
	if (text)
		printf("%s\n", text);
	fflush(stdout);
	free(text);
}

/* A progress frame: onto the bar, or a line of its own. Malformed ones
 * (no seq, a progress outside 0..1) are ignored: only a hint. */
static void
s_on_progress(sub_t *s, json_t *f)
{
	json_t *seq = json_object_get(f, "seq");
	json_t *p = json_object_get(f, "progress");
	const char *text = json_string_value(json_object_get(f, "text"));
	double v = json_number_value(p);
	char clean[SUB_ITEMS_TEXT * 4 + 1];

	if (!json_is_integer(seq) || json_integer_value(seq) < 0
	    || !json_is_number(p) || !(v >= 0.0 && v <= 1.0))
		return;
	if (s->bar)
		sub_items_set(&s->running, (uint64_t) json_integer_value(seq),
		    v, text, sl_clock_mono_us());
	if (!s->lines)
		return;
	sub_items_clean(clean, sizeof clean, text ? text : "", SUB_ITEMS_TEXT);
	fprintf(stderr, "progress %s %lld %.4f%s%s\n", s->id,
	    (long long) json_integer_value(seq), v, *clean ? " " : "", clean);
	fflush(stderr);
}

/* A frame of one item (it has a seq): -1 to go on. */
static int
s_on_item(sub_t *s, const char *type, json_t *f)
{
	json_t *seq = json_object_get(f, "seq");

	if (!strcmp(type, "progress")) {
		s_on_progress(s, f);
		return -1;
	}
	if (!strcmp(type, "partial")) {
		if (s->partials)
			s_print(s, f);
		return -1;
	}
	if (!strcmp(type, "result"))
		s->ok++;
	else
		s->failed++;
	if (json_is_integer(seq) && json_integer_value(seq) >= 0)
		sub_items_end(&s->running, (uint64_t) json_integer_value(seq));
	s_print(s, f);
	return -1;
}

/* Decode one frame from the gateway into a JSON object, or NULL. */
static json_t *
s_decode(const void *data, size_t len)
{
	msgpack_unpacked u;
	json_t *j = NULL;
	const char *why;
	size_t off = 0;

	if (sl_proto_check(data, len, 40))
		return NULL;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, data, len, &off) == MSGPACK_UNPACK_SUCCESS
	    && off == len && sl_json_from_mp(&u.data, &j, &why))
		j = NULL;
	msgpack_unpacked_destroy(&u);
	if (j && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

/* One frame: -1 to go on, else the exit status. */
static int
s_on_frame(sub_t *s, json_t *f)
{
	const char *type = json_string_value(json_object_get(f, "type"));
	const char *id = json_string_value(json_object_get(f, "id"));

	if (!type || strcmp(type, "pong") == 0)
		return -1;
	/* Whatever its id (a ping has none): the gateway says we are on its
	 * workers endpoint, where nothing we send will ever be served. */
	if (!strcmp(type, "error")
	    && !strcmp(json_string_value(json_object_get(f, "code"))
	            ? json_string_value(json_object_get(f, "code"))
	            : "",
	        "wrong_endpoint")) {
		s_draw_bar(s, true);
		fprintf(stderr,
		    "sluice-submit: %s is a gateway's workers endpoint; "
		    "--gateway must be its producers endpoint (default "
		    "tcp://127.0.0.1:5556, SLUICE_PRODUCERS)\n",
		    s->gateway);
		return EXIT_WRONG_ENDPOINT;
	}
	if (!id || strcmp(id, s->id))
		return -1;
	if (!strcmp(type, "accepted")) {
		s->total
		    = (size_t) json_integer_value(json_object_get(f, "items"));
		if (s->timing && json_object_get(f, "traceparent"))
			fprintf(stderr, "sluice-submit: traceparent %s\n",
			    json_string_value(
			        json_object_get(f, "traceparent")));
		return -1;
	}
	if ((!strcmp(type, "result") || !strcmp(type, "error")
	        || !strcmp(type, "progress") || !strcmp(type, "partial"))
	    && json_object_get(f, "seq"))
		return s_on_item(s, type, f);
	if (!strcmp(type, "done")) {
		s_draw_bar(s, true);
		return s->failed ? EXIT_FAILED : EXIT_OK;
	}
	if (!strcmp(type, "error")) {
		s_draw_bar(s, true);
		fprintf(stderr, "sluice-submit: refused: %s: %s\n",
		    json_string_value(json_object_get(f, "code")),
		    json_string_value(json_object_get(f, "message")));
		return EXIT_REFUSED;
	}
	return -1;
}

/* Items from argv, or JSON lines from stdin; NULL after a message. */
static json_t *
s_items(int argc, char **argv, int first)
{
	json_t *items = json_array();
	json_error_t jerr;
	char line[1 << 16];

	for (int i = first; items && i < argc; i++) {
		json_t *v = json_loads(argv[i], JSON_DECODE_ANY, &jerr);

		if (!v) {
			fprintf(stderr, "sluice-submit: item %d '%s': %s\n",
			    i - first, argv[i], jerr.text);
			json_decref(items);
			return NULL;
		}
		json_array_append_new(items, v);
	}
	if (!items || first < argc)
		return items;
	while (fgets(line, sizeof line, stdin)) {
		json_t *v;

		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		v = json_loads(line, JSON_DECODE_ANY, &jerr);
		if (!v) {
			fprintf(
			    stderr, "sluice-submit: stdin: %s\n", jerr.text);
			json_decref(items);
			return NULL;
		}
		json_array_append_new(items, v);
	}
	return items;
}

/* Mark in had[0..n) the seq of each line of fp: 0, or -1 with the
 * number of the first line that is not one of ours (*lineno). */
static int
s_read_had(FILE *fp, bool *had, size_t n, size_t *lineno)
{
	char *line = NULL;
	size_t cap = 0;
	int rc = 0;

	*lineno = 0;
	while (!rc && getline(&line, &cap, fp) >= 0) {
		json_t *v;
		json_int_t k;
		const char *type;

		++*lineno;
		if (strspn(line, " \t\r\n") == strlen(line))
			continue;
		v = json_loads(line, 0, NULL);
		type = json_string_value(json_object_get(v, "type"));
		/* a partial value says nothing about its item's end */
		if (type && !strcmp(type, "partial")) {
			json_decref(v);
			continue;
		}
		k = json_is_integer(json_object_get(v, "seq"))
		    ? json_integer_value(json_object_get(v, "seq"))
		    : -1;
		json_decref(v);
		if (k < 0 || (uint64_t) k >= n)
			rc = -1;
		else
			had[k] = true;
	}
	free(line);
	return rc;
}

/*
 * --have: *items becomes the items whose seq no line of path has, *seqs
 * their seqs (a new array). 0, or EXIT_USAGE after a message.
 */
static int
s_skip_had(const char *path, json_t **items, json_t **seqs)
{
	size_t n = json_array_size(*items), lineno;
	bool *had = calloc(n ? n : 1, sizeof *had);
	json_t *left = json_array(), *s = json_array();
	FILE *fp = fopen(path, "r");
	int rc = EXIT_USAGE;

	if (!fp)
		fprintf(stderr, "sluice-submit: --have %s: %s\n", path,
		    strerror(errno));
	else if (!had || !left || !s)
		fprintf(stderr, "sluice-submit: out of memory\n");
	else if (s_read_had(fp, had, n, &lineno))
		fprintf(stderr,
		    "sluice-submit: --have %s: line %zu is not a result or "
		    "item error of these %zu items\n",
		    path, lineno, n);
	else
		rc = 0;
	for (size_t i = 0; !rc && i < n; i++) {
		if (!had[i]
		    && (json_array_append(left, json_array_get(*items, i))
		        || json_array_append_new(s, json_integer(i))))
			rc = EXIT_USAGE;
	}
	if (!rc) {
		json_decref(*items);
		*items = left;
		*seqs = s;
	} else {
		json_decref(left);
		json_decref(s);
	}
	if (fp)
		fclose(fp);
	free(had);
	return rc;
}

static int
s_run(sub_t *s, const sub_cfg_t *cfg, const char *task, json_t *items,
    json_t *seqs)
{
	int64_t now = sl_clock_mono_us(), heard = now, next_ping = now;
	int64_t deadline = cfg->timeout_ms ? now + cfg->timeout_ms * 1000 : 0;
	int rc = -1;

	s->t0_us = now;
	if (s_send(s,
	        json_pack("{s:s, s:s, s:s, s:o, s:s*, s:o*, s:b, s:s*}",
	            "type", "submit", "id", s->id, "task", task, "items",
	            items, "notify",
	            strcmp(cfg->notify, "none") ? cfg->notify : NULL, "seqs",
	            seqs, "timing", cfg->timing, "traceparent",
	            strcmp(cfg->traceparent, "none") ? cfg->traceparent
	                                             : NULL))) {
		fprintf(stderr, "sluice-submit: cannot send the request\n");
		return EXIT_REFUSED;
	}
	while (rc < 0) {
		zmq_pollitem_t pi = { s->sock, 0, ZMQ_POLLIN, 0 };
		int64_t wait = SUB_BAR_US;

		now = sl_clock_mono_us();
		if (s_interrupted || (deadline && now >= deadline)) {
			s_draw_bar(s, true);
			fprintf(stderr, "sluice-submit: %s; cancelling\n",
			    s_interrupted ? "interrupted" : "timeout");
			s_send(s,
			    json_pack(
			        "{s:s, s:s}", "type", "cancel", "id", s->id));
			return s_interrupted ? EXIT_INTERRUPTED : EXIT_TIMEOUT;
		}
		if (now - heard > SUB_SILENT_US) {
			s_draw_bar(s, true);
			fprintf(stderr,
			    "sluice-submit: no answer from %s for %lld s (is "
			    "a gateway's producers endpoint there? with "
			    "CURVE on it, this tool cannot connect)\n",
			    cfg->gateway, (long long) SUB_SILENT_US / 1000000);
			return EXIT_REFUSED;
		}
		if (now >= next_ping) {
			s_send(s, json_pack("{s:s}", "type", "ping"));
			next_ping = now + SUB_PING_US;
		}
		if (deadline && deadline - now < wait)
			wait = deadline - now;
		if (zmq_poll(&pi, 1, (long) (wait / 1000) + 1) < 0) {
			if (errno == EINTR)
				continue;
			return EXIT_REFUSED;
		}
		while (rc < 0) {
			zmq_msg_t m;
			json_t *f;

			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, s->sock, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				break;
			}
			heard = sl_clock_mono_us();
			f = s_decode(zmq_msg_data(&m), zmq_msg_size(&m));
			zmq_msg_close(&m);
			if (f)
				rc = s_on_frame(s, f);
			json_decref(f);
		}
		if (rc < 0
		    && sl_clock_mono_us() - s->bar_at_us >= SUB_BAR_US) {
			s->bar_at_us = sl_clock_mono_us();
			s_draw_bar(s, false);
		}
	}
	return rc;
}

int
main(int argc, char **argv)
{
	static const sl_cfg_info_t info = { "sluice-submit",
		"submit a task's items to a sluice gateway and print each "
		"result as a JSON line as it arrives",
		SLUICE_VERSION };
	struct sigaction sa;
	sub_cfg_t cfg;
	sub_t s = { 0 };
	char err[256];
	json_t *items, *seqs = NULL;
	void *zctx = NULL;
	int first, rc, linger = 500;

	rc = sl_cfg_load_pos(s_opts, N_OPTS, &cfg, argc, argv, &info,
	    "TASK [ITEM]...", &first, stdout, err, sizeof err);
	if (rc == SL_CFG_EXIT_OK) {
		for (int i = 1; i < argc; i++)
			if (!strcmp(argv[i], "--help")
			    || !strcmp(argv[i], "-h"))
				fputs(s_exit_help, stdout);
		return EXIT_OK;
	}
	if (rc || first >= argc) {
		fprintf(stderr, "sluice-submit: %s (see --help)\n",
		    rc ? err : "TASK missing");
		return EXIT_USAGE;
	}
	if (!*cfg.id || strlen(cfg.id) > GW_CMSG_MAX_ID) {
		fprintf(stderr, "sluice-submit: --id: 1..%d bytes\n",
		    GW_CMSG_MAX_ID);
		return EXIT_USAGE;
	}
	items = s_items(argc, argv, first + 1);
	if (items && strcmp(cfg.have, "none")
	    && s_skip_had(cfg.have, &items, &seqs)) {
		json_decref(items);
		return EXIT_USAGE;
	}
	if (!items)
		return EXIT_USAGE;
	if (!json_array_size(items)) {
		fprintf(stderr, "sluice-submit: every item is in --have %s\n",
		    cfg.have);
		rc = EXIT_OK;
		goto out;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = s_on_signal; /* no SA_RESTART: zmq_poll wakes */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	s.id = cfg.id;
	s.gateway = cfg.gateway;
	s.bar = cfg.progress == 1 || (cfg.progress == 0 && isatty(2));
	s.lines = cfg.progress == 3;
	s.partials = cfg.partials;
	sub_items_init(&s.running);
	s.timing = cfg.timing;
	zctx = zmq_ctx_new();
	s.sock = zctx ? zmq_socket(zctx, ZMQ_DEALER) : NULL;
	if (!s.sock
	    || zmq_setsockopt(s.sock, ZMQ_LINGER, &linger, sizeof linger)
	    || zmq_connect(s.sock, cfg.gateway)) {
		fprintf(stderr, "sluice-submit: %s: %s\n", cfg.gateway,
		    zmq_strerror(zmq_errno()));
		rc = EXIT_USAGE;
		goto out;
	}
	rc = s_run(&s, &cfg, argv[first], items, seqs); /* takes both */
	items = seqs = NULL;
out:
	json_decref(items);
	json_decref(seqs);
	if (s.sock)
		zmq_close(s.sock); /* lingers so a cancel still leaves */
	if (zctx)
		zmq_ctx_term(zctx);
	return rc;
}
