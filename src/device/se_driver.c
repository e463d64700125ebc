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

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"
#include "se/card.h"

/* Bound on waiting for the card: connect and every reply. */
#define VPCD_TIMEOUT_MS 30000
#define VPCD_FRAME_MAX 0xFFFF

struct se_driver {
	const struct se_driver_ops *ops;
	void *ctx;
	uint32_t channels;     /* bit n: logical channel n is open */
	int no_channels;       /* the card or reader cannot open one */
	int app_ch[SE_APP_SLOTS]; /* channel each application is selected on, -1 none */
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

static void
driver_forget(se_driver *d)
{
	d->channels = 0;
	d->no_channels = 0;
	for (size_t i = 0; i < SE_APP_SLOTS; i++)
		d->app_ch[i] = -1;
}

int
se_driver_new(const struct se_driver_ops *ops, void *ctx, se_driver **out)
{
	if (ops == NULL || ops->transmit == NULL || ops->reset == NULL || out == NULL)
		return TS_EINVAL;
	se_driver *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return TS_ENOMEM;
	d->ops = ops;
	d->ctx = ctx;
	driver_forget(d);
	*out = d;
	return 0;
}

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
	driver_forget(d);
	*out = d;
	return 0;
}

void
se_driver_free(se_driver *d)
{
	if (d == NULL)
		return;
	/* Channels we opened would stay open on a shared card (another PC/SC
	 * client, the next run) until it is reset: close them. */
	for (int ch = 1; ch <= SE_CHANNEL_MAX; ch++)
		if (d->channels & (1u << ch))
			(void)se_driver_close_channel(d, ch);
	if (d->ops != NULL && d->ops->close != NULL)
		d->ops->close(d->ctx);
	free(d);
}

int
se_driver_transmit(se_driver *d, const uint8_t *capdu, size_t clen,
    uint8_t *rapdu, size_t rcap, size_t *rlen)
{
	if (d == NULL || capdu == NULL || rapdu == NULL || rlen == NULL || rcap < 2 || clen < 4)
		return TS_EINVAL;
	int rc = d->ops->transmit(d->ctx, capdu, clen, rapdu, rcap, rlen);
	if (rc == 0 && (*rlen < 2 || *rlen > rcap))
		rc = TS_EPROTO; /* every response ends with SW1 SW2 */
	/* The header and status word only: data may be a bound package or a
	 * certificate, and is no business of a log. */
	if (rc == 0 && *rlen >= 2)
		log_debug("apdu %s > %02X %02X %02X %02X (%zu bytes) < %02X%02X (%zu bytes)",
		    d->ops->name, capdu[0], capdu[1], capdu[2], capdu[3], clen,
		    rapdu[*rlen - 2], rapdu[*rlen - 1], *rlen - 2);
	else if (rc != 0)
		log_debug("apdu %s > %02X %02X %02X %02X: %s", d->ops->name, capdu[0], capdu[1],
		    capdu[2], capdu[3], ts_strerror(rc));
	return rc;
}

int
se_driver_reset(se_driver *d)
{
	if (d == NULL)
		return TS_EINVAL;
	driver_forget(d);
	return d->ops->reset(d->ctx);
}

int
se_driver_begin(se_driver *d)
{
	if (d == NULL)
		return TS_EINVAL;
	return d->ops->begin != NULL ? d->ops->begin(d->ctx) : 0;
}

void
se_driver_end(se_driver *d)
{
	if (d != NULL && d->ops->end != NULL)
		d->ops->end(d->ctx);
}

uint8_t
se_cla(uint8_t cla, int ch)
{
	if (ch < 0 || ch > SE_CHANNEL_MAX)
		return 0xFF;
	if (ch <= 3)
		return (uint8_t)(cla | ch);
	return (uint8_t)((cla & 0x80) | 0x40 | (ch - 4));
}

int
se_driver_open_channel(se_driver *d, int *ch)
{
	static const uint8_t open_cmd[] = { 0x00, 0x70, 0x00, 0x00, 0x01 };
	uint8_t r[258];
	size_t rlen = 0;
	if (d == NULL || ch == NULL)
		return TS_EINVAL;
	if (d->no_channels)
		return TS_EUNSUPP;
	int rc = se_driver_transmit(d, open_cmd, sizeof(open_cmd), r, sizeof(r), &rlen);
	if (rc != 0)
		return rc;
	uint16_t sw = (uint16_t)(r[rlen - 2] << 8 | r[rlen - 1]);
	rlen -= 2;
	if (sw == 0x6101 && rlen == 0) {
		/* T=0: the channel number waits for GET RESPONSE. */
		static const uint8_t gr[] = { 0x00, 0xC0, 0x00, 0x00, 0x01 };
		if ((rc = se_driver_transmit(d, gr, sizeof(gr), r, sizeof(r), &rlen)) != 0)
			return rc;
		sw = (uint16_t)(r[rlen - 2] << 8 | r[rlen - 1]);
		rlen -= 2;
	}
	if (sw == 0x6881 || sw == 0x6A81 || sw == 0x6D00 || sw == 0x6E00) {
		log_info("secure element (%s): no logical channel (MANAGE CHANNEL answered %04X); "
		    "using the basic channel", d->ops->name, sw);
		d->no_channels = 1;
		return TS_EUNSUPP;
	}
	if (sw != 0x9000 || rlen != 1 || r[0] == 0 || r[0] > SE_CHANNEL_MAX ||
	    (d->channels & (1u << r[0]))) {
		log_warn("secure element (%s): MANAGE CHANNEL answered %04X with %zu bytes",
		    d->ops->name, sw, rlen);
		return TS_EPROTO;
	}
	*ch = r[0];
	d->channels |= 1u << r[0];
	return 0;
}

void
se_driver_forget_channel(se_driver *d, int ch)
{
	if (d == NULL || ch < 1 || ch > SE_CHANNEL_MAX)
		return;
	d->channels &= ~(1u << ch);
	for (size_t i = 0; i < SE_APP_SLOTS; i++)
		if (d->app_ch[i] == ch)
			d->app_ch[i] = -1;
}

int
se_driver_close_channel(se_driver *d, int ch)
{
	if (d == NULL || ch < 1 || ch > SE_CHANNEL_MAX)
		return TS_EINVAL;
	uint8_t cmd[4] = { se_cla(0x00, ch), 0x70, 0x80, (uint8_t)ch };
	uint8_t r[258];
	size_t rlen = 0;
	se_driver_forget_channel(d, ch);
	int rc = se_driver_transmit(d, cmd, sizeof(cmd), r, sizeof(r), &rlen);
	if (rc != 0)
		return rc;
	return r[rlen - 2] == 0x90 && r[rlen - 1] == 0x00 ? 0 : TS_EPROTO;
}

uint32_t
se_driver_channels(const se_driver *d)
{
	return d != NULL ? d->channels : 0;
}

int
se_driver_app_channel(const se_driver *d, int app)
{
	if (d == NULL || app < 0 || app >= SE_APP_SLOTS)
		return -1;
	return d->app_ch[app];
}

void
se_driver_set_app_channel(se_driver *d, int app, int ch)
{
	if (d != NULL && app >= 0 && app < SE_APP_SLOTS)
		d->app_ch[app] = ch >= 0 && ch <= SE_CHANNEL_MAX ? ch : -1;
}

const char *
se_driver_name(const se_driver *d)
{
	return d != NULL && d->ops != NULL ? d->ops->name : "none";
}
