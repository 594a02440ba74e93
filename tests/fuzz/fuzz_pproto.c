/*
 * fuzz_pproto: libFuzzer target for gw_pproto_parse, the parser of every
 * frame a producer sends to the producers endpoint (untrusted msgpack).
 *
 * Checks the contract besides memory safety: a refusal carries a code and
 * an error frame that serialises as JSON; an accepted frame is a submit,
 * cancel or ping whose fields are what gw_cproto promises, and whose
 * answer frames encode back to msgpack (gw_pproto_encode), as the gateway
 * sends them. Single threaded; run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "gw_cproto.h"
#include "gw_pproto.h"
#include "sl_err.h"

#define FUZZ_MAX_ITEMS 100

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msgpack_sbuffer sb;
	gw_cmsg_t m;
	gw_cerr_t err;
	json_t *f;

	memset(&err, 0, sizeof err);
	if (gw_pproto_parse(data, size, FUZZ_MAX_ITEMS, &m, &err)) {
		/* Refused: a code, and an error frame that goes out. */
		f = gw_frame_error(&err);
		if (!err.code || !f)
			abort();
		msgpack_sbuffer_init(&sb);
		if (gw_pproto_encode(f, &sb))
			abort();
		msgpack_sbuffer_destroy(&sb);
		json_decref(f);
		return 0;
	}
	switch (m.type) {
	case GW_CMSG_SUBMIT:
		if (!m.id || !m.task || !json_is_array(m.items)
		    || !json_array_size(m.items)
		    || json_array_size(m.items) > FUZZ_MAX_ITEMS)
			abort();
		break;
	case GW_CMSG_CANCEL:
		if (!m.id)
			abort();
		break;
	case GW_CMSG_PING:
		/* The pong echoes data: it must encode back to msgpack. */
		f = gw_frame_pong(m.data, 1, 0, 0, 0);
		if (!f)
			abort();
		msgpack_sbuffer_init(&sb);
		if (gw_pproto_encode(f, &sb))
			abort();
		msgpack_sbuffer_destroy(&sb);
		json_decref(f);
		break;
	default:
		abort();
	}
	gw_cmsg_clear(&m);
	return 0;
}
