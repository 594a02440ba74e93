/* sl_err: descriptions of the SL_E* codes. Any thread. */
#include "sl_err.h"

const char *
sl_strerror(int err)
{
	switch (err) {
	case SL_OK:
		return "ok";
	case SL_EINVAL:
		return "invalid argument";
	case SL_ENOMEM:
		return "out of memory";
	case SL_EPROTO:
		return "malformed message";
	case SL_EVERSION:
		return "unsupported protocol version";
	case SL_ETYPE:
		return "unknown message type";
	case SL_ETOOBIG:
		return "over size limit";
	case SL_ESYS:
		return "system call failed";
	case SL_EFULL:
		return "queue full";
	case SL_ENOTFOUND:
		return "not found";
	}
	return "unknown error";
}
