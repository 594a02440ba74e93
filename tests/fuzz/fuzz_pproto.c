/*
 * fuzz_pproto: libFuzzer target for gw_pproto_parse, the parser of every
 * frame a producer sends to the producers endpoint (untrusted msgpack).
 *
 * Checks the contract besides memory safety: a refusal carries a code and
 * an error frame that serialises as JSON; an accepted frame is a submit,
 * cancel or ping whose fields are what gw_cmsg promises, and whose
 * answer frames encode back to msgpack (gw_pproto_encode), as the gateway
 * sends them. Single threaded; run by tests/fuzz/run.sh.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "gw_cmsg.h"
#include "gw_out.h"
#include "gw_pproto.h"
#include "sl_err.h"
#include "sl_proto.h"

#define FUZZ_MAX_ITEMS 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The frame must encode to msgpack, and to JSON when it has a JSON form
 * (everything but a msgpack client's own ping data, which only goes back
 * to it). */
static void
s_encodes(const gw_out_t *f, bool json)
{
	msgpack_sbuffer sb;
	json_t *j = NULL;

	msgpack_sbuffer_init(&sb);
	if (gw_pproto_encode(f, &sb))
		abort();
	msgpack_sbuffer_destroy(&sb);
	if (json && gw_out_json(f, &j))
		abort();
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gw_cmsg_t m;
	gw_cmsg_err_t err;
	gw_out_t f;

	memset(&err, 0, sizeof err);
	if (gw_pproto_parse(data, size, FUZZ_MAX_ITEMS, &m, &err)) {
		/* Refused: a code, and an error frame that goes out. */
		if (!err.code)
			abort();
		f = gw_out_error(&err);
		s_encodes(&f, true);
		return 0;
	}
	switch (m.type) {
	case GW_CMSG_SUBMIT:
		if (!m.id[0] || !m.task[0] || !m.item_end || m.root
		    || !m.n_items || m.n_items > FUZZ_MAX_ITEMS)
			abort();
		/* Each item is packed for a worker as it came; a watcher
		 * over JSON must be able to see it as an echo result. */
		for (size_t i = 0; i < m.n_items; i++) {
			msgpack_unpacked u;
			size_t len, off = 0;
			const char *item = gw_cmsg_item(&m, i, &len);

			if (sl_proto_check(
			        item, len, SL_PROTO_MAX_ITEM_DEPTH + 1))
				abort();
			msgpack_unpacked_init(&u);
			if (msgpack_unpack_next(&u, item, len, &off)
			        != MSGPACK_UNPACK_SUCCESS
			    || off != len)
				abort();
			f = (gw_out_t) { .type = GW_OUT_RESULT,
				.id = m.id,
				.channel = m.channel[0] ? m.channel : NULL,
				.value.mp = &u.data };
			s_encodes(&f, true);
			msgpack_unpacked_destroy(&u);
		}
		break;
	case GW_CMSG_CANCEL:
		if (!m.id[0])
			abort();
		break;
	case GW_CMSG_SUBSCRIBE:
	case GW_CMSG_UNSUBSCRIBE:
		if (!m.channel[0])
			abort();
		break;
	case GW_CMSG_PING:
		/* The pong echoes data: it must encode back to msgpack. */
		f = (gw_out_t) { .type = GW_OUT_PONG, .value = m.data };
		s_encodes(&f, false);
		break;
	default:
		abort();
	}
	gw_cmsg_clear(&m);
	return 0;
}
