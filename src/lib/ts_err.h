/*
 * ts_err.h — tapshare error codes.
 *
 * Every function that can fail returns int: 0 on success or a negative TS_E*
 * code. ts_strerror() gives a message for every code (never NULL).
 */
#ifndef TS_ERR_H
#define TS_ERR_H

enum ts_err {
	TS_OK = 0,
	TS_ENOMEM = -1,    /* out of memory */
	TS_EINVAL = -2,    /* invalid argument */
	TS_EPARSE = -3,    /* malformed input */
	TS_EAGAIN = -4,    /* need more input (incremental parsers) */
	TS_ELIMIT = -5,    /* a size, depth or count limit was exceeded */
	TS_ECRYPTO = -6,   /* a cryptographic operation failed */
	TS_EIO = -7,       /* file or socket I/O failed */
	TS_ENOTFOUND = -8, /* no such object */
	TS_EEXIST = -9,    /* object already exists */
	TS_EAUTH = -10,    /* authentication failed */
	TS_EVERIFY = -11,  /* signature, MAC or certificate check failed */
	TS_ESTATE = -12,   /* operation not allowed in the current state */
	TS_EEXPIRED = -13, /* past its validity (not_after) */
	TS_EEIDFMT = -14,  /* EID is not 32 decimal digits */
	TS_EEIDCHK = -15,  /* EID check digits wrong */
	TS_EDB = -16,      /* database error */
	TS_ENET = -17,     /* network / HTTP transport error */
	TS_EPROTO = -18,   /* peer violated the protocol */
	TS_EDENIED = -19,  /* refused by policy */
	TS_ETRAILING = -20,/* trailing bytes after a complete structure */
	TS_EUNSUPP = -21,  /* unsupported feature or value */
	TS_ECONFIG = -22,  /* configuration error */
	TS_ETIMEOUT = -23, /* timed out */
	TS_ECONFLICT = -24,/* conflicting request (e.g. idempotency key reuse) */
	TS_ELAST = -25
};

/* Message for a TS_E* code; static storage, never NULL. */
const char *ts_strerror(int err);

#endif
