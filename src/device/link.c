/*
 * link.c — short-range link drivers (patent S1), chosen in one place
 * (link_drivers[] below) from the scheme of a spec string.
 *
 * Only the `sim` driver exists today. It is a SIMULATOR of a proximity link
 * (NFC / BLE / body-coupled): a Unix stream socket that hands every reader
 * exactly the NDEF bytes a tag would hold, framed as a 2-byte big-endian
 * length followed by the message (docs/protocol.md §1). The advertiser writes
 * one frame per connection. Like an NFC reader writing to a tag, the reader
 * may then write back ONE frame (a share offer, lib/ndef_offer.h): only when
 * the advertiser registered an offer callback does it wait for it, at most
 * LINK_SIM_OFFER_WAIT_MS, and whatever arrives goes to the callback as bytes;
 * judging them is the callback's business. A reader that just closes (every
 * link_read) ends the exchange at once.
 */
#include "device/link.h"
#include "device/link_qr.h"
#include "device/nfc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/ts_err.h"
#include "lib/util.h"

/* How long the advertiser lets one reader take to accept a frame: a stuck
 * reader must not keep the link busy for the others. */
#define LINK_SIM_WRITE_TIMEOUT_MS 2000
/* Pause between connection attempts while nobody advertises yet. */
#define LINK_SIM_RETRY_MS 50
#define LINK_SIM_BACKLOG 8
/* How long the advertiser waits for the reader's optional frame after its
 * own: the primary writes right after reading, so this only has to cover
 * scheduling, and it bounds how long one reader holds up the next. */
#define LINK_SIM_OFFER_WAIT_MS 500

typedef struct link_driver {
	const char *scheme;      /* "sim" (spec is "sim:ARG") */
	const char *description; /* for messages */
	/* NULL functions = a reserved scheme with no driver in this build. */
	int (*check)(const char *arg, char *errbuf, size_t errcap);
	int (*read)(const char *arg, long timeout_ms, uint8_t **out, size_t *outlen);
	int (*advertise)(const char *arg, const uint8_t *msg, size_t len, void **impl);
	void (*advertiser_free)(void *impl);
} link_driver;

struct link_advertiser {
	const link_driver *drv;
	void *impl;
};

/* ------------------------------------------------------------------------ */
/* sim: the simulated proximity link over a Unix socket                       */

typedef struct sim_adv {
	int listen_fd;
	int wake_rd, wake_wr; /* self-pipe: a byte on it stops the thread */
	pthread_t thread;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	uint8_t *frame; /* header + message */
	size_t frame_len;
	link_offer_cb offer_cb; /* NULL: never read from a reader */
	void *offer_arg;
} sim_adv;

static int
sim_check(const char *arg, char *errbuf, size_t errcap)
{
	struct sockaddr_un sa;
	if (arg[0] == '\0') {
		ts_errbuf(errbuf, errcap, "sim link needs a socket path (sim:/path/to/socket)");
		return TS_EINVAL;
	}
	if (strlen(arg) >= sizeof(sa.sun_path)) {
		ts_errbuf(errbuf, errcap, "sim link socket path is too long: %s", arg);
		return TS_EINVAL;
	}
	return 0;
}

static int
sim_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(sa->sun_path))
		return TS_EINVAL;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

static int
remaining_ms(int64_t deadline)
{
	int64_t left = deadline - ts_mono_ms();
	if (left <= 0)
		return 0;
	return left > 60000 ? 60000 : (int)left;
}

/* Writes all of buf to fd, waiting at most until deadline (monotonic ms). */
static int
write_all(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
	size_t off = 0;
	while (off < len) {
		int wait = remaining_ms(deadline);
		if (wait == 0)
			return TS_ETIMEOUT;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int pr = poll(&p, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return TS_EIO;
		if (pr == 0)
			continue; /* deadline is rechecked above */
		ssize_t w = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (w <= 0)
			return TS_EIO;
		off += (size_t)w;
	}
	return 0;
}

/* Reads exactly len bytes, waiting at most until deadline. TS_EPROTO if the
 * peer closes early. */
static int
read_exact(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	size_t off = 0;
	while (off < len) {
		int wait = remaining_ms(deadline);
		if (wait == 0)
			return TS_ETIMEOUT;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int pr = poll(&p, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return TS_EIO;
		if (pr == 0)
			continue;
		ssize_t r = recv(fd, buf + off, len - off, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (r < 0)
			return TS_EIO;
		if (r == 0)
			return TS_EPROTO;
		off += (size_t)r;
	}
	return 0;
}

/* Reads one frame (2-byte BE length 1..NDEF_MAX_MESSAGE, then the bytes)
 * before deadline. *out is malloc'ed. TS_EPROTO for an empty frame or a
 * peer that closes early, TS_ELIMIT for an oversized one. */
static int
read_frame(int fd, int64_t deadline, uint8_t **out, size_t *outlen)
{
	uint8_t hdr[LINK_SIM_HDR];
	uint8_t *buf = NULL;
	int rc = read_exact(fd, hdr, sizeof(hdr), deadline);
	if (rc != 0)
		return rc;
	size_t len = (size_t)hdr[0] << 8 | hdr[1];
	if (len == 0)
		return TS_EPROTO;
	if (len > NDEF_MAX_MESSAGE)
		return TS_ELIMIT;
	buf = malloc(len);
	if (buf == NULL)
		return TS_ENOMEM;
	if ((rc = read_exact(fd, buf, len, deadline)) != 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* After our frame: the reader's optional one, handed to the offer callback. */
static void
sim_take_offer(sim_adv *a, int c)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc = read_frame(c, ts_mono_ms() + LINK_SIM_OFFER_WAIT_MS, &msg, &len);
	if (rc == TS_EPROTO || rc == TS_ETIMEOUT) {
		/* The usual case: a reader that only read (closed, or idle). */
		log_debug("sim link: no frame from the reader (%s)", ts_strerror(rc));
		return;
	}
	if (rc != 0) {
		log_warn("sim link: dropped the reader's frame (%s)", ts_strerror(rc));
		return;
	}
	log_debug("sim link: reader wrote a %zu-byte message", len);
	a->offer_cb(msg, len, a->offer_arg);
	free(msg);
}

static void *
sim_thread(void *arg)
{
	sim_adv *a = arg;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = a->listen_fd, .events = POLLIN },
			{ .fd = a->wake_rd, .events = POLLIN },
		};
		int pr = poll(p, 2, -1);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0 || (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int c = accept(a->listen_fd, NULL, NULL);
		if (c < 0)
			continue; /* EAGAIN, ECONNABORTED, EMFILE: try again later */
		(void)fcntl(c, F_SETFD, FD_CLOEXEC);
		int rc = write_all(c, a->frame, a->frame_len,
		    ts_mono_ms() + LINK_SIM_WRITE_TIMEOUT_MS);
		if (rc != 0)
			log_debug("sim link: reader did not take the frame (%s)", ts_strerror(rc));
		else if (a->offer_cb != NULL)
			sim_take_offer(a, c);
		close(c);
	}
	return NULL;
}

static void
sim_advertiser_free(void *impl)
{
	sim_adv *a = impl;
	if (a == NULL)
		return;
	char b = 1;
	ssize_t w;
	do
		w = write(a->wake_wr, &b, 1);
	while (w < 0 && errno == EINTR);
	pthread_join(a->thread, NULL);
	/* Only remove the socket if it is still the one we created. */
	struct stat st;
	if (lstat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
		unlink(a->path);
	close(a->listen_fd);
	close(a->wake_rd);
	close(a->wake_wr);
	free(a->frame);
	free(a);
}

static int
sim_advertise_cb(const char *path, const uint8_t *msg, size_t len, link_offer_cb cb,
    void *cb_arg, void **impl)
{
	int rc;
	sim_adv *a = NULL;
	struct sockaddr_un sa;
	struct stat st;
	int pipefd[2] = { -1, -1 };
	int fd = -1;
	int bound = 0;

	if (msg == NULL || len == 0)
		return TS_EINVAL;
	if (len > NDEF_MAX_MESSAGE || len > 0xffff)
		return TS_ELIMIT;
	if ((rc = sim_addr(path, &sa)) != 0)
		return rc;

	/* A stale socket from a previous run is removed; anything else at the
	 * path is somebody's file and is left alone. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_error("sim link: %s exists and is not a socket", path);
			return TS_EEXIST;
		}
		if (unlink(path) != 0 && errno != ENOENT)
			return TS_EIO;
	}

	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return TS_ENOMEM;
	a->listen_fd = a->wake_rd = a->wake_wr = -1;
	a->offer_cb = cb;
	a->offer_arg = cb_arg;
	memcpy(a->path, sa.sun_path, sizeof(a->path));
	a->frame_len = LINK_SIM_HDR + len;
	a->frame = malloc(a->frame_len);
	if (a->frame == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	a->frame[0] = (uint8_t)(len >> 8);
	a->frame[1] = (uint8_t)(len & 0xff);
	memcpy(a->frame + LINK_SIM_HDR, msg, len);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		rc = TS_EIO;
		goto fail;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		log_error("sim link: bind %s: %s", path, strerror(errno));
		rc = TS_EIO;
		goto fail;
	}
	bound = 1;
	/* Nobody can connect before listen(), so tightening the mode here leaves
	 * no window in which others could read the frame. */
	if (chmod(path, 0600) != 0 || lstat(path, &st) != 0) {
		rc = TS_EIO;
		goto fail;
	}
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	if (listen(fd, LINK_SIM_BACKLOG) != 0) {
		rc = TS_EIO;
		goto fail;
	}
	if (pipe(pipefd) != 0) {
		rc = TS_EIO;
		goto fail;
	}
	(void)fcntl(pipefd[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
	a->listen_fd = fd;
	a->wake_rd = pipefd[0];
	a->wake_wr = pipefd[1];
	if (pthread_create(&a->thread, NULL, sim_thread, a) != 0) {
		a->listen_fd = a->wake_rd = a->wake_wr = -1;
		rc = TS_ENOMEM;
		goto fail;
	}
	log_info("sim link (SIMULATED proximity link): advertising %zu-byte NDEF message on %s%s",
	    len, path, cb != NULL ? ", taking share offers" : "");
	*impl = a;
	return 0;

fail:
	if (bound)
		unlink(path);
	if (fd >= 0)
		close(fd);
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (a != NULL)
		free(a->frame);
	free(a);
	return rc;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
sim_advertise(const char *path, const uint8_t *msg, size_t len, void **impl)
{
	return sim_advertise_cb(path, msg, len, NULL, NULL, impl);
}

/* Connects to the advertiser at path, retrying until it appears ("hold the
 * devices together") or deadline passes. */
static int
sim_connect(const char *path, int64_t deadline, int *out)
{
	struct sockaddr_un sa;
	int rc;
	if ((rc = sim_addr(path, &sa)) != 0)
		return rc;
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return TS_EIO;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			*out = fd;
			return 0;
		}
		int e = errno;
		close(fd);
		if (e != ENOENT && e != ECONNREFUSED && e != EAGAIN && e != EINTR) {
			log_error("sim link: connect %s: %s", path, strerror(e));
			return TS_EIO;
		}
		int left = remaining_ms(deadline);
		if (left == 0)
			return TS_ETIMEOUT;
		sleep_ms(left < LINK_SIM_RETRY_MS ? left : LINK_SIM_RETRY_MS);
	}
}

static int
sim_read(const char *path, long timeout_ms, uint8_t **out, size_t *outlen)
{
	int fd = -1;
	if (timeout_ms < 0)
		return TS_EINVAL;
	int64_t deadline = ts_mono_ms() + timeout_ms;
	int rc = sim_connect(path, deadline, &fd);
	if (rc != 0)
		return rc;
	rc = read_frame(fd, deadline, out, outlen);
	close(fd);
	return rc;
}

/* Reader side of the write-back: read the identity frame, then write msg as
 * one frame while the advertiser waits for it. */
static int
sim_write(const char *path, long timeout_ms, const uint8_t *msg, size_t len,
    uint8_t **identity, size_t *idlen)
{
	int fd = -1;
	uint8_t *id = NULL, *frame = NULL;
	size_t id_len = 0;
	int rc;

	if (timeout_ms < 0 || msg == NULL || len == 0)
		return TS_EINVAL;
	if (len > NDEF_MAX_MESSAGE || len > 0xffff)
		return TS_ELIMIT;
	frame = malloc(LINK_SIM_HDR + len);
	if (frame == NULL)
		return TS_ENOMEM;
	frame[0] = (uint8_t)(len >> 8);
	frame[1] = (uint8_t)(len & 0xff);
	memcpy(frame + LINK_SIM_HDR, msg, len);

	int64_t deadline = ts_mono_ms() + timeout_ms;
	if ((rc = sim_connect(path, deadline, &fd)) != 0)
		goto fail;
	if ((rc = read_frame(fd, deadline, &id, &id_len)) != 0)
		goto fail;
	/* The advertiser gives us LINK_SIM_OFFER_WAIT_MS from its side. */
	if ((rc = write_all(fd, frame, LINK_SIM_HDR + len,
	    ts_mono_ms() + LINK_SIM_OFFER_WAIT_MS)) != 0)
		goto fail;
	close(fd);
	free(frame);
	*identity = id;
	*idlen = id_len;
	return 0;

fail:
	if (fd >= 0)
		close(fd);
	free(id);
	free(frame);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The one place a spec string is mapped to a driver. */

static const link_driver link_drivers[] = {
	{ "sim", "simulated proximity link", sim_check, sim_read, sim_advertise,
	    sim_advertiser_free },
	/* QR code: libqrencode / zbar / libpng, in device/link_qr.c. */
	{ "qr", "QR code", link_qr_check, link_qr_read, link_qr_advertise,
	    link_qr_advertiser_free },
	/* NFC Forum Type 4 Tag over libnfc (device/nfc_libnfc.c), or a stub
	 * that reports "unsupported" in builds without libnfc (nfc_none.c). */
	{ "nfc", "NFC Type 4 Tag", nfc_link_check, nfc_link_read, nfc_link_advertise,
	    nfc_link_stop },
};

/* Drivers that also carry a message from the reader to the advertiser (share
 * offers, claims 20/33). A QR code is one-way; the NFC tag's NDEF write is
 * not wired up yet. */
typedef struct link_offer_driver {
	const char *scheme;
	int (*advertise)(const char *arg, const uint8_t *msg, size_t len, link_offer_cb cb,
	    void *cb_arg, void **impl); /* freed by the link_driver's advertiser_free */
	int (*write)(const char *arg, long timeout_ms, const uint8_t *msg, size_t len,
	    uint8_t **identity, size_t *idlen);
} link_offer_driver;

static const link_offer_driver link_offer_drivers[] = {
	{ "sim", sim_advertise_cb, sim_write },
};

static const link_offer_driver *
link_offer_find(const link_driver *d)
{
	for (size_t i = 0; i < TS_ARRAY_LEN(link_offer_drivers); i++)
		if (strcmp(link_offer_drivers[i].scheme, d->scheme) == 0)
			return &link_offer_drivers[i];
	return NULL;
}

/* Finds the driver for spec; *arg points after "scheme:". */
static const link_driver *
link_find(const char *spec, const char **arg)
{
	if (spec == NULL)
		return NULL;
	const char *colon = strchr(spec, ':');
	if (colon == NULL)
		return NULL;
	size_t n = (size_t)(colon - spec);
	for (size_t i = 0; i < TS_ARRAY_LEN(link_drivers); i++) {
		if (strlen(link_drivers[i].scheme) == n &&
		    memcmp(link_drivers[i].scheme, spec, n) == 0) {
			*arg = colon + 1;
			return &link_drivers[i];
		}
	}
	return NULL;
}

int
link_spec_check(const char *spec, char *errbuf, size_t errcap)
{
	const char *arg = NULL;
	const link_driver *d = link_find(spec, &arg);
	if (d == NULL) {
		ts_errbuf(errbuf, errcap,
		    "unknown link '%s' (supported: sim:/path/to/socket, the simulated proximity link; "
		    "qr:FILE.png or qr:camera, a QR code; nfc:[DEVICE], an NFC Type 4 Tag)",
		    spec != NULL ? spec : "");
		return TS_EUNSUPP;
	}
	if (d->read == NULL) {
		ts_errbuf(errbuf, errcap,
		    "link scheme '%s' has no driver in this build (use sim:/path/to/socket)", d->scheme);
		return TS_EUNSUPP;
	}
	return d->check(arg, errbuf, errcap);
}

const char *
link_describe(const char *spec)
{
	const char *arg = NULL;
	const link_driver *d = link_find(spec, &arg);
	return d != NULL ? d->description : "unknown link";
}

int
link_read(const char *spec, long timeout_ms, uint8_t **out, size_t *outlen)
{
	char why[256];
	const char *arg = NULL;
	if (out == NULL || outlen == NULL)
		return TS_EINVAL;
	int rc = link_spec_check(spec, why, sizeof(why));
	if (rc != 0) {
		log_error("link: %s", why);
		return rc;
	}
	const link_driver *d = link_find(spec, &arg);
	return d->read(arg, timeout_ms, out, outlen);
}

int
link_read_identity(const char *spec, long timeout_ms, ndef_identity *out)
{
	uint8_t *msg = NULL;
	size_t len = 0;
	int rc = link_read(spec, timeout_ms, &msg, &len);
	if (rc != 0)
		return rc;
	rc = ndef_identity_decode(msg, len, out);
	free(msg);
	return rc;
}

int
link_advertise(const char *spec, const uint8_t *msg, size_t len, link_advertiser **out)
{
	return link_advertise_ex(spec, msg, len, NULL, NULL, out);
}

int
link_write(const char *spec, long timeout_ms, const uint8_t *msg, size_t len,
    uint8_t **identity, size_t *idlen)
{
	char why[256];
	const char *arg = NULL;
	if (identity == NULL || idlen == NULL)
		return TS_EINVAL;
	int rc = link_spec_check(spec, why, sizeof(why));
	if (rc != 0) {
		log_error("link: %s", why);
		return rc;
	}
	const link_offer_driver *od = link_offer_find(link_find(spec, &arg));
	if (od == NULL) {
		log_error("link: %s cannot carry a message to the companion", link_describe(spec));
		return TS_EUNSUPP;
	}
	return od->write(arg, timeout_ms, msg, len, identity, idlen);
}

int
link_advertise_ex(const char *spec, const uint8_t *msg, size_t len, link_offer_cb cb,
    void *cb_arg, link_advertiser **out)
{
	char why[256];
	const char *arg = NULL;
	link_advertiser *a = NULL;
	int rc;

	if (out == NULL)
		return TS_EINVAL;
	if ((rc = link_spec_check(spec, why, sizeof(why))) != 0) {
		log_error("link: %s", why);
		return rc;
	}
	const link_driver *d = link_find(spec, &arg);
	if (d->advertise == NULL)
		return TS_EUNSUPP;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return TS_ENOMEM;
	a->drv = d;
	const link_offer_driver *od = cb != NULL ? link_offer_find(d) : NULL;
	if (cb != NULL && od == NULL)
		log_info("link: the %s is one-way; no share offers arrive over it", d->description);
	if (od != NULL)
		rc = od->advertise(arg, msg, len, cb, cb_arg, &a->impl);
	else
		rc = d->advertise(arg, msg, len, &a->impl);
	if (rc != 0)
		goto fail;
	*out = a;
	return 0;

fail:
	free(a);
	return rc;
}

void
link_advertiser_free(link_advertiser *a)
{
	if (a == NULL)
		return;
	a->drv->advertiser_free(a->impl);
	free(a);
}
