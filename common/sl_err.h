/*
 * sl_err: the error codes every sluice module returns.
 *
 * Functions return 0 on success and a negative SL_E* on failure; results
 * come back through out-parameters. Thread-safe, no state.
 */
#ifndef SL_ERR_H
#define SL_ERR_H

enum {
	SL_OK = 0,
	SL_EINVAL = -1,   /* bad argument or configuration value */
	SL_ENOMEM = -2,   /* allocation failed */
	SL_EPROTO = -3,   /* malformed message: bad msgpack, wrong types */
	SL_EVERSION = -4, /* message of an unsupported protocol version */
	SL_ETYPE = -5,    /* well-formed message of an unknown type */
	SL_ETOOBIG = -6,  /* message or field over its limit */
	SL_ESYS = -7,     /* system call failed; errno says why */
	SL_EFULL = -8,    /* a bounded queue is full */
	SL_ENOTFOUND = -9 /* no such peer, job or request */
};

/* A short static description of an SL_E* code; never NULL. */
const char *sl_strerror(int err);

#endif
