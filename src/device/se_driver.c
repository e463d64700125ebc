/*
 * se_driver.c — APDU transports to a secure element, chosen in one place
 * (se_driver_open) from the spec string:
 *
 *   inproc:PATH      the software SE (se/card.h) opened on the state file PATH
 *   vpcd:HOST:PORT   a vpcd-speaking card over TCP (tapshare-se serve). We are
 *                    the reader side: we connect, speak first (power on, then
 *                    one command frame per exchange) and read one reply frame.
 *                    Frames: 2-byte big-endian length + payload.
 *   pcsc:[READER]    a card in a reader through pcsc-lite (se_pcsc.c)
 */
#include "device/se_driver.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"

/* Bound on waiting for the card: connect and every reply. */
#define VPCD_TIMEOUT_MS 30000
#define VPCD_FRAME_MAX 0xFFFF

struct se_driver {
	const struct se_driver_ops *ops;
	void *ctx;
	int isdr_selected;
};

/* ---- inproc ---- */

static int
inproc_transmit(void *ctx, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	return se_card_apdu(ctx, capdu, clen, rapdu, rcap, rlen);
}

static int
inproc_reset(void *ctx)
{
	se_card_reset(ctx);
	return 0;
}

static void
inproc_close(void *ctx)
{
	se_card_free(ctx);
}

static const struct se_driver_ops inproc_ops = {
	.name = "inproc",
	.transmit = inproc_transmit,
	.reset = inproc_reset,
	.close = inproc_close,
};

/* ---- vpcd ---- */

typedef struct vpcd_conn {
	int fd;
} vpcd_conn;

/* Waits until fd is ready for events, at most VPCD_TIMEOUT_MS. */
static int
wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	for (;;) {
		int r = poll(&p, 1, VPCD_TIMEOUT_MS);
		if (r > 0)
			return 0;
		if (r == 0)
			return TS_ETIMEOUT;
		if (errno != EINTR)
			return TS_EIO;
	}
}

static int
write_all(int fd, const uint8_t *b, size_t len)
{
	while (len > 0) {
		int rc = wait_fd(fd, POLLOUT);
		if (rc != 0)
			return rc;
		ssize_t w = send(fd, b, len, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return TS_EIO;
		}
		b += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
read_all(int fd, uint8_t *b, size_t len)
{
	while (len > 0) {
		int rc = wait_fd(fd, POLLIN);
		if (rc != 0)
			return rc;
		ssize_t r = recv(fd, b, len, 0);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			return TS_EIO;
		}
		if (r == 0)
			return TS_EIO; /* the card went away */
		b += r;
		len -= (size_t)r;
	}
	return 0;
}

static int
vpcd_send(vpcd_conn *v, const uint8_t *p, size_t len)
{
	if (len == 0 || len > VPCD_FRAME_MAX)
		return TS_EINVAL;
	uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	int rc = write_all(v->fd, hdr, 2);
	return rc != 0 ? rc : write_all(v->fd, p, len);
}

static int
vpcd_transmit(void *ctx, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	vpcd_conn *v = ctx;
	/* 1-byte payloads are control messages in vpcd, never APDUs. */
	if (clen < 4)
		return TS_EINVAL;
	int rc = vpcd_send(v, capdu, clen);
	if (rc != 0)
		return rc;
	uint8_t hdr[2];
	if ((rc = read_all(v->fd, hdr, 2)) != 0)
		return rc;
	size_t n = ((size_t)hdr[0] << 8) | hdr[1];
	if (n < 2 || n > rcap)
		return TS_EPROTO; /* the stream cannot be resynchronised */
	if ((rc = read_all(v->fd, rapdu, n)) != 0)
		return rc;
	*rlen = n;
	return 0;
}

static int
vpcd_reset(void *ctx)
{
	vpcd_conn *v = ctx;
	static const uint8_t reset = 0x02; /* no reply */
	return vpcd_send(v, &reset, 1);
}

static void
vpcd_close(void *ctx)
{
	vpcd_conn *v = ctx;
	if (v == NULL)
		return;
	if (v->fd >= 0) {
		static const uint8_t off = 0x00;
		(void)vpcd_send(v, &off, 1);
		close(v->fd);
	}
	free(v);
}

static const struct se_driver_ops vpcd_ops = {
	.name = "vpcd",
	.transmit = vpcd_transmit,
	.reset = vpcd_reset,
	.close = vpcd_close,
};

/* "HOST:PORT" (HOST may be [v6]) -> connected socket. */
static int
tcp_connect(const char *hostport, int *out)
{
	char host[256];
	const char *colon = strrchr(hostport, ':');
	if (colon == NULL || colon == hostport)
		return TS_EINVAL;
	size_t hl = (size_t)(colon - hostport);
	const char *h = hostport;
	if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(host))
		return TS_EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	long long port;
	if (ts_parse_ll(colon + 1, 1, 65535, &port) != 0)
		return TS_EINVAL;
	char ps[8];
	if (ts_snprintf(ps, sizeof(ps), "%lld", port) != 0)
		return TS_EINVAL;

	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, ps, &hints, &res) != 0)
		return TS_ENET;
	int rc = TS_ENET;
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			int one = 1;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			*out = fd;
			rc = 0;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

static int
vpcd_open(const char *hostport, void **ctx)
{
	vpcd_conn *v = calloc(1, sizeof(*v));
	if (v == NULL)
		return TS_ENOMEM;
	v->fd = -1;
	int rc = tcp_connect(hostport, &v->fd);
	if (rc != 0)
		goto fail;
	static const uint8_t power_on = 0x01; /* the reader speaks first */
	if ((rc = vpcd_send(v, &power_on, 1)) != 0)
		goto fail;
	*ctx = v;
	return 0;
fail:
	if (v->fd >= 0)
		close(v->fd);
	free(v);
	return rc;
}

/* ---- selection and dispatch ---- */

int
se_driver_open(const char *spec, se_driver **out)
{
	if (spec == NULL || out == NULL)
		return TS_EINVAL;
	se_driver *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return TS_ENOMEM;
	int rc;
	if (strncmp(spec, "inproc:", 7) == 0 && spec[7] != '\0') {
		se_card *c = NULL;
		rc = se_card_open(spec + 7, &c);
		d->ops = &inproc_ops;
		d->ctx = c;
	} else if (strncmp(spec, "vpcd:", 5) == 0) {
		rc = vpcd_open(spec + 5, &d->ctx);
		d->ops = &vpcd_ops;
	} else if (strncmp(spec, "pcsc:", 5) == 0) {
		rc = se_pcsc_open(spec + 5, &d->ctx);
		d->ops = &se_pcsc_ops;
	} else {
		rc = TS_EINVAL;
	}
	if (rc != 0) {
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void
se_driver_free(se_driver *d)
{
	if (d == NULL)
		return;
	if (d->ops != NULL && d->ops->close != NULL)
		d->ops->close(d->ctx);
	free(d);
}

int
se_driver_transmit(se_driver *d, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	if (d == NULL || capdu == NULL || rapdu == NULL || rlen == NULL || rcap < 2)
		return TS_EINVAL;
	return d->ops->transmit(d->ctx, capdu, clen, rapdu, rcap, rlen);
}

int
se_driver_reset(se_driver *d)
{
	if (d == NULL)
		return TS_EINVAL;
	d->isdr_selected = 0;
	return d->ops->reset(d->ctx);
}

int
se_driver_isdr_selected(const se_driver *d)
{
	return d != NULL && d->isdr_selected;
}

void
se_driver_set_isdr_selected(se_driver *d, int on)
{
	if (d != NULL)
		d->isdr_selected = on != 0;
}

const char *
se_driver_name(const se_driver *d)
{
	return d != NULL && d->ops != NULL ? d->ops->name : "none";
}
