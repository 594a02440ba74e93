/*
 * fuzz_proto: libFuzzer target for sl_proto_decode, the decoder of every
 * frame a worker sends the gateway (untrusted bytes off the ROUTER).
 *
 * Beyond "no crash, no leak, no huge allocation" (-malloc_limit_mb), it
 * checks the contract: a decoded message has a known type and its fields
 * are within the limits docs/PROTOCOL.md states; a RESULT value goes on
 * through sl_json_from_mp exactly as the broker forwards it, and what comes
 * out must serialise. Single threaded; run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "sl_err.h"
#include "sl_json.h"
#include "sl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	json_t *value = NULL;
	sl_msg_t m;
	int rc;

	sl_proto_msg_init(&m);
	rc = sl_proto_decode(data, size, &m, &why);
	if (rc) {
		/* refused: a reason for the log, nothing kept */
		if (!why)
			abort();
		sl_proto_msg_clear(&m);
		return 0;
	}
	/* accepted: the validator must agree */
	if (sl_proto_check(data, size, SL_PROTO_MAX_DEPTH))
		abort();
	switch (m.type) {
	case SL_MSG_READY:
		if (!m.u.ready.capacity
		    || m.u.ready.capacity > SL_PROTO_MAX_CAPACITY
		    || !m.u.ready.n_tasks
		    || m.u.ready.n_tasks > SL_PROTO_MAX_TASKS)
			abort();
		for (size_t i = 0; i < m.u.ready.n_tasks; i++)
			if (!m.u.ready.tasks[i].len
			    || m.u.ready.tasks[i].len > SL_PROTO_MAX_NAME)
				abort();
		break;
	case SL_MSG_RESULT:
		if (m.u.result.ok) {
			if (!m.u.result.value)
				abort();
			if (!sl_json_from_mp(m.u.result.value, &value, &why)) {
				char *s = json_dumps(
				    value, JSON_COMPACT | JSON_ENCODE_ANY);

				if (!s)
					abort();
				free(s);
				json_decref(value);
			}
		} else if (!m.u.result.code.len
		    || m.u.result.code.len > SL_PROTO_MAX_NAME
		    || m.u.result.message.len > SL_PROTO_MAX_TEXT) {
			abort();
		}
		break;
	case SL_MSG_JOB:
		if (!m.u.job.item || m.u.job.task.len > SL_PROTO_MAX_NAME)
			abort();
		break;
	default:
		break;
	}
	sl_proto_msg_clear(&m);
	return 0;
}
