/*
 * sl_mpck: check that bytes are exactly one well-formed msgpack object
 * before msgpack-c sees them, without allocating: every container count
 * must fit the bytes that remain (so a hostile count cannot make the
 * unpacker allocate), nesting is bounded, no trailing bytes. Used by the
 * worker protocol (sl_proto_check) and wherever a peer's or a task's
 * msgpack bytes are taken as they are.
 *
 * No state; any thread.
 */
#ifndef SL_MPCK_H
#define SL_MPCK_H

#include <stddef.h>

/* 0, or SL_EPROTO: not exactly one object nested at most max_depth deep
 * within len bytes. */
int sl_mpck_check(const void *data, size_t len, unsigned max_depth);

#endif
