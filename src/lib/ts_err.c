#include "lib/ts_err.h"

const char *
ts_strerror(int err)
{
	switch (err) {
	case TS_OK: return "success";
	case TS_ENOMEM: return "out of memory";
	case TS_EINVAL: return "invalid argument";
	case TS_EPARSE: return "malformed input";
	case TS_EAGAIN: return "need more input";
	case TS_ELIMIT: return "limit exceeded";
	case TS_ECRYPTO: return "cryptographic operation failed";
	case TS_EIO: return "I/O error";
	case TS_ENOTFOUND: return "not found";
	case TS_EEXIST: return "already exists";
	case TS_EAUTH: return "authentication failed";
	case TS_EVERIFY: return "verification failed";
	case TS_ESTATE: return "not allowed in the current state";
	case TS_EEXPIRED: return "expired";
	case TS_EEIDFMT: return "EID must be 32 decimal digits";
	case TS_EEIDCHK: return "EID check digits are wrong (ISO 7064 MOD 97-10)";
	case TS_EDB: return "database error";
	case TS_ENET: return "network error";
	case TS_EPROTO: return "protocol error";
	case TS_EDENIED: return "denied by policy";
	case TS_ETRAILING: return "trailing bytes after structure";
	case TS_EUNSUPP: return "unsupported";
	case TS_ECONFIG: return "configuration error";
	case TS_ETIMEOUT: return "timed out";
	case TS_ECONFLICT: return "conflicting request";
	default: return "unknown error";
	}
}
