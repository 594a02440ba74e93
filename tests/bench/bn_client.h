/*
 * bn_client: sluice-bench's WebSocket side: N loaded connections (and
 * optionally many idle ones) in one lws client context, driven by one
 * control timer through the phases connect → run → drain → close.
 *
 * Loaded connections submit requests of K items with "timing": true, at a
 * fixed rate per connection (open loop: the schedule does not wait for
 * answers, up to an in-flight cap) or closed loop (W requests in flight).
 * Every result is timed on arrival: forward delay = our CLOCK_REALTIME −
 * the worker's t_done_us; item latency = arrival − submit (monotonic).
 *
 * With push set, loaded connections submit nothing: each sends one start
 * frame and the server pushes timestamped result lines (bn_push; served
 * by websocketd running sluice-bench-ticker). With park set, the bench
 * keeps its connections open after the run until SIGINT/SIGTERM (a holder
 * of idle connections for another bench to run beside).
 * Everything runs in the lws service thread (the process's only thread).
 */
#ifndef BN_CLIENT_H
#define BN_CLIENT_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include <libwebsockets.h>

#include "bn_frame.h"
#include "bn_stats.h"

#define BN_MAX_ITEMS_LIST 16 /* distinct K values in --items */
#define BN_MAX_PIDS 16       /* --worker-pids */
#define BN_PING_SLOTS 64     /* pings awaiting their pong, per connection */

enum { BN_PARSER_FAST = 0, BN_PARSER_JANSSON };
#define BN_PARSER_NAMES "fast,jansson"

typedef struct bn_plan {
	const char *host; /* gateway address (numeric or name) */
	int port;
	const char *path;                /* "/" */
	const char *task;                /* echo, burn, sleep, ... */
	const char *item_json;           /* one item, as JSON text */
	size_t items[BN_MAX_ITEMS_LIST]; /* K, cycled over connections */
	int n_items;
	int conns;            /* loaded connections */
	int idle;             /* extra connections that only stay open */
	double rate;          /* requests/s per connection; 0: closed loop */
	int inflight;         /* closed loop: W; rate mode: the cap */
	int64_t duration_us;  /* submit for this long (0: until the count) */
	uint64_t requests;    /* total over all connections (0: no limit) */
	int64_t stagger_us;   /* connection i starts i × stagger later */
	int64_t ping_us;      /* ping period per connection (0: none) */
	int64_t drain_us;     /* wait this long for answers after the run */
	int64_t idle_hold_us; /* keep idle connections this long first */
	int64_t connect_timeout_us;
	int connect_parallel;   /* handshakes in progress at once */
	int parser;             /* BN_PARSER_* (JSON only) */
	int msgpack;            /* speak sluice.msgpack.v1 instead of JSON */
	int push;               /* the server pushes; we only start and read */
	int park;               /* after the run, hold until a signal */
	const char *ready_file; /* park: written once parked (NULL: none) */
	pid_t gw_pid;           /* 0: not watched */
	pid_t worker_pids[BN_MAX_PIDS];
	int n_worker_pids;
} bn_plan_t;

typedef enum {
	BN_PH_CONNECT = 0,
	BN_PH_HOLD, /* idle connections open: let the gateway settle */
	BN_PH_RUN,
	BN_PH_DRAIN,
	BN_PH_PARK, /* measured; connections held until a signal */
	BN_PH_CLOSE,
	BN_PH_DONE,
} bn_phase_t;

typedef struct bn_counts {
	uint64_t conns_ok, conns_failed, conns_lost; /* lost: closed early */
	uint64_t idle_ok, idle_failed, idle_lost;
	uint64_t req_submitted, req_done, req_refused;
	uint64_t items_submitted, results, item_errors, refused_items;
	uint64_t late_submits; /* rate mode: sent > 1 ms after schedule */
	uint64_t pings_sent, pongs;
	uint64_t frames, frame_bytes, result_bytes;
	uint64_t fallback_parses; /* frames the scanner passed to jansson */
	uint64_t unparsed;        /* frames neither parser understood */
	uint64_t unknown_id;      /* frames for no request we have open */
	uint64_t no_timing;       /* results without t_done_us */
	uint64_t push_open;       /* push: connections without a done line */
	uint64_t push_misordered; /* push: a seq not the next one expected */
} bn_counts_t;

typedef struct bn_req bn_req_t;
typedef struct bn_run bn_run_t;

typedef struct bn_conn {
	bn_run_t *run;   /* borrowed */
	struct lws *wsi; /* NULL until connecting, and after close */
	int index;
	int idle;
	int state;         /* BN_C_* in bn_client.c */
	int closing;       /* close at the next WRITEABLE */
	size_t items;      /* K for this connection */
	uint64_t quota;    /* requests to submit (UINT64_MAX: no limit) */
	uint64_t next_req; /* requests submitted so far */
	int inflight;
	bn_req_t *reqs;     /* owned: plan.inflight slots */
	int64_t t_begin_us; /* first submit not before (monotonic) */
	uint64_t ping_seq;
	int64_t ping_sent[BN_PING_SLOTS]; /* monotonic; 0: answered */
	int pings_due;
	int push_started;      /* push: the start frame was sent */
	int64_t push_next_seq; /* push: the seq the next result must have */
	lws_sorted_usec_list_t sul_submit; /* rate mode: next due submit */
	lws_sorted_usec_list_t sul_ping;
	char *rx; /* owned: a fragmented message being reassembled */
	size_t rx_len, rx_cap;
	unsigned char *tx; /* owned: LWS_PRE + the frame being written */
	size_t tx_cap;
	char *submit_tail; /* owned: `","task":..,"items":[..]}` */
	size_t submit_tail_len;
	/* per-connection outcome, monotonic µs */
	int64_t first_submit_us, last_done_us, max_req_us;
	uint64_t done;
} bn_conn_t;

struct bn_run {
	bn_plan_t plan;
	struct lws_context *ctx;           /* borrowed from main */
	const volatile sig_atomic_t *stop; /* set by main's signal handler */
	/* park: called once parked, measurements done (main writes the
	 * report then, in case closing 10,000 connections takes too long) */
	void (*on_park)(bn_run_t *run);
	bn_conn_t *conns; /* owned: plan.conns loaded, then plan.idle */
	int n_conns;
	int next_connect; /* index of the next connection to open */
	int connecting;   /* handshakes in progress */
	int open;         /* established, not closed */
	bn_phase_t phase;
	int failed;             /* a setup error: the run is void */
	int64_t t_phase_us;     /* monotonic: when the phase began */
	int64_t t_run_us;       /* monotonic: start of the run phase */
	int64_t t_end_submit;   /* monotonic: no submit from then on */
	int64_t t_first_submit; /* monotonic, over all connections */
	int64_t t_last_result;
	int64_t t_last_rss;
	int64_t cpu0_us, cpu1_us;     /* our CPU at run start / end */
	int64_t gw_cpu0, gw_cpu1;     /* the gateway's */
	int64_t wk_cpu0, wk_cpu1;     /* the workers', summed */
	int64_t push_cpu_us;          /* push: the tickers' CPU, from done */
	int64_t sys_busy0, sys_busy1; /* the whole machine's busy time */
	int64_t rss_before_kib;       /* the gateway's, before we connect */
	int64_t rss_start_kib, rss_peak_kib, rss_end_kib; /* ... in the run */
	int64_t t_run_end_us;            /* monotonic: end of the drain */
	bn_samples_t fwd, e2e, req, rtt; /* µs */
	bn_bunching_t bunch;
	bn_counts_t c;
	lws_sorted_usec_list_t ctl; /* the control timer */
};

/* The protocol entry for lws_create_context's protocol list. */
int bn_client_callback(struct lws *wsi, enum lws_callback_reasons reason,
    void *user, void *in, size_t len);
#define BN_CLIENT_PROTOCOL "sluice-bench"

/*
 * Prepare run for plan (copied): connections, submit frames, samples.
 * 0, or SL_EINVAL / SL_ENOMEM with a message in err.
 */
int bn_client_init(
    bn_run_t *run, const bn_plan_t *plan, char *err, size_t errlen);

/* Start connecting and arm the control timer; ctx's user must be run. */
void bn_client_start(bn_run_t *run, struct lws_context *ctx);

/* Free what init allocated (after lws_context_destroy). NULL-safe. */
void bn_client_fini(bn_run_t *run);

#endif
