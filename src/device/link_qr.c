/*
 * link_qr.c — the QR-code short-range link (see link_qr.h; docs/protocol.md
 * §1). The QR code carries exactly the NDEF identity message in one byte-mode
 * segment. zbar is run with ZBAR_CFG_BINARY so it hands the bytes back
 * unconverted (without it zbar guesses a character set and re-encodes to
 * UTF-8, which would mangle the BCD EID).
 *
 * zbar says nothing when it sees a QR code it cannot decode, so to tell
 * "damaged" from "no code at all" we look for finder patterns ourselves
 * (ISO/IEC 18004 §6.3.3: dark-light-dark-light-dark runs in the ratio
 * 1:1:3:1:1, seen both across and down through the same centre).
 */
#include "device/link_qr.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <png.h>
#include <qrencode.h>
#include <zbar.h>

#include "lib/log.h"
#include "lib/ndef.h"
#include "lib/ts_err.h"
#include "lib/util.h"

#define LINK_QR_CAMERA "camera"
#define LINK_QR_CAMERA_DEV "/dev/video0"
#define LINK_QR_ZBARCAM "zbarcam"
/* Finder-pattern clusters we keep track of while looking for a damaged code. */
#define QR_MAX_CLUSTERS 32
/* Rows through one finder pattern that must agree before we believe in it. */
#define QR_MIN_CLUSTER_HITS 3
/* Bytes of a foreign code's content quoted in the error message. */
#define QR_QUOTE_MAX 60

/* ------------------------------------------------------------------------ */
/* Encoding                                                                   */

int
link_qr_encode(const uint8_t *msg, size_t len, uint8_t **modules, int *width)
{
	if (msg == NULL || len == 0 || modules == NULL || width == NULL)
		return TS_EINVAL;
	if (len > NDEF_MAX_MESSAGE)
		return TS_ELIMIT;
	/* Version 0 = the smallest that fits; level M restores ~15 % of the
	 * codewords, enough for a scuffed printout or a glare spot. */
	errno = 0;
	QRcode *qr = QRcode_encodeData((int)len, msg, 0, QR_ECLEVEL_M);
	if (qr == NULL)
		return errno == ERANGE ? TS_ELIMIT : errno == ENOMEM ? TS_ENOMEM : TS_EINVAL;
	size_t n = (size_t)qr->width * (size_t)qr->width;
	uint8_t *m = malloc(n);
	if (m == NULL) {
		QRcode_free(qr);
		return TS_ENOMEM;
	}
	/* libqrencode: bit 0 of each byte is the module colour (1 = dark). */
	for (size_t i = 0; i < n; i++)
		m[i] = qr->data[i] & 1;
	*width = qr->width;
	*modules = m;
	QRcode_free(qr);
	return 0;
}

int
link_qr_write_png(const char *path, const uint8_t *modules, int width, int module_px)
{
	int rc;
	uint8_t *px = NULL, *png = NULL;
	png_image img;

	if (path == NULL || modules == NULL || width <= 0 || width > 177 || module_px < 1 ||
	    module_px > 64)
		return TS_EINVAL;
	size_t side = ((size_t)width + 2 * LINK_QR_QUIET) * (size_t)module_px;
	px = malloc(side * side);
	if (px == NULL)
		return TS_ENOMEM;
	memset(px, 0xff, side * side);
	for (size_t y = 0; y < side; y++) {
		size_t my = y / (size_t)module_px;
		if (my < LINK_QR_QUIET || my >= LINK_QR_QUIET + (size_t)width)
			continue;
		for (size_t x = 0; x < side; x++) {
			size_t mx = x / (size_t)module_px;
			if (mx < LINK_QR_QUIET || mx >= LINK_QR_QUIET + (size_t)width)
				continue;
			if (modules[(my - LINK_QR_QUIET) * (size_t)width + (mx - LINK_QR_QUIET)])
				px[y * side + x] = 0;
		}
	}
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)side;
	img.height = (png_uint_32)side;
	img.format = PNG_FORMAT_GRAY;
	png_alloc_size_t size = 0;
	if (!png_image_write_get_memory_size(img, size, 0, px, 0, NULL)) {
		log_error("qr link: cannot encode PNG: %s", img.message);
		rc = TS_EIO;
		goto fail;
	}
	png = malloc(size);
	if (png == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	if (!png_image_write_to_memory(&img, png, &size, 0, px, 0, NULL)) {
		log_error("qr link: cannot encode PNG: %s", img.message);
		rc = TS_EIO;
		goto fail;
	}
	rc = ts_write_file_atomic(path, png, size, 0644);
	if (rc != 0)
		log_error("qr link: cannot write %s (%s)", path, ts_strerror(rc));
fail:
	png_image_free(&img);
	free(png);
	free(px);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Terminal rendering (pure)                                                  */

/* Module (x, y) of the bitmap framed by the quiet zone; outside = light. */
static int
qr_dark(const uint8_t *m, int width, int x, int y)
{
	x -= LINK_QR_QUIET;
	y -= LINK_QR_QUIET;
	if (x < 0 || y < 0 || x >= width || y >= width)
		return 0;
	return m[(size_t)y * (size_t)width + (size_t)x] != 0;
}

int
link_qr_render_text(const uint8_t *modules, int width, unsigned flags, char **out)
{
	if (modules == NULL || out == NULL || width <= 0 || width > 177)
		return TS_EINVAL;
	int utf8 = (flags & LINK_QR_TEXT_UTF8) != 0;
	int dark_ink = (flags & LINK_QR_TEXT_DARK_INK) != 0;
	int side = width + 2 * LINK_QR_QUIET;
	int lines = utf8 ? (side + 1) / 2 : side;
	/* UTF-8 blocks are 3 bytes; ASCII uses 2 characters per module. */
	size_t per_line = (size_t)side * 3 + 1;
	size_t cap = (size_t)lines * per_line + 1;
	char *buf = malloc(cap);
	if (buf == NULL)
		return TS_ENOMEM;
	size_t off = 0;
	for (int ln = 0; ln < lines; ln++) {
		for (int x = 0; x < side; x++) {
			if (utf8) {
				int top = qr_dark(modules, width, x, 2 * ln) == dark_ink;
				int bot = 2 * ln + 1 < side &&
				    qr_dark(modules, width, x, 2 * ln + 1) == dark_ink;
				/* An odd last row pairs with a light row below it. */
				if (2 * ln + 1 >= side)
					bot = !dark_ink;
				const char *s = top && bot ? "\xe2\x96\x88" : top ? "\xe2\x96\x80"
				    : bot ? "\xe2\x96\x84" : " ";
				size_t n = strlen(s);
				memcpy(buf + off, s, n);
				off += n;
			} else {
				int ink = qr_dark(modules, width, x, ln) == dark_ink;
				buf[off++] = ink ? '#' : ' ';
				buf[off++] = ink ? '#' : ' ';
			}
		}
		buf[off++] = '\n';
	}
	buf[off] = '\0';
	*out = buf;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* PNG input                                                                  */

int
link_qr_read_png(const char *path, uint8_t **gray, int *w, int *h, char *why, size_t whycap)
{
	int rc;
	uint8_t *file = NULL, *px = NULL;
	size_t flen = 0;
	png_image img;
	static const png_color white = { 255, 255, 255 };

	memset(&img, 0, sizeof(img));
	if (path == NULL || gray == NULL || w == NULL || h == NULL)
		return TS_EINVAL;
	errno = 0;
	rc = ts_read_file(path, LINK_QR_MAX_FILE, &file, &flen);
	if (rc == TS_ENOTFOUND) {
		ts_errbuf(why, whycap, "cannot read %s: no such file", path);
		return TS_EIO;
	}
	if (rc == TS_ELIMIT) {
		ts_errbuf(why, whycap, "%s is larger than %u bytes", path, LINK_QR_MAX_FILE);
		return TS_ELIMIT;
	}
	if (rc != 0) {
		ts_errbuf(why, whycap, "cannot read %s: %s", path,
		    errno != 0 ? strerror(errno) : ts_strerror(rc));
		return rc == TS_ENOMEM ? rc : TS_EIO;
	}
	if (flen < 8 || png_sig_cmp(file, 0, 8) != 0) {
		ts_errbuf(why, whycap, "%s is not a PNG image", path);
		rc = TS_EPARSE;
		goto fail;
	}
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&img, file, flen)) {
		ts_errbuf(why, whycap, "%s is a corrupt PNG image (%s)", path, img.message);
		rc = TS_EPARSE;
		goto fail;
	}
	if (img.width == 0 || img.height == 0 || img.width > LINK_QR_MAX_DIM ||
	    img.height > LINK_QR_MAX_DIM ||
	    (uint64_t)img.width * img.height > LINK_QR_MAX_PIXELS) {
		ts_errbuf(why, whycap, "%s is %ux%u pixels; at most %u pixels per side and %u in all",
		    path, (unsigned)img.width, (unsigned)img.height, LINK_QR_MAX_DIM,
		    LINK_QR_MAX_PIXELS);
		rc = TS_ELIMIT;
		goto fail;
	}
	img.format = PNG_FORMAT_GRAY;
	px = malloc((size_t)img.width * img.height);
	if (px == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	if (!png_image_finish_read(&img, &white, px, 0, NULL)) {
		ts_errbuf(why, whycap, "%s is a corrupt PNG image (%s)", path, img.message);
		rc = TS_EPARSE;
		goto fail;
	}
	*w = (int)img.width;
	*h = (int)img.height;
	*gray = px;
	px = NULL;
	rc = 0;
fail:
	png_image_free(&img);
	free(px);
	free(file);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Finder-pattern search (only to name the error when zbar finds nothing)     */

typedef struct qr_cluster {
	double x, y, module;
	int hits;
} qr_cluster;

/* Do runs r[0..4] (dark, light, dark, light, dark) have ratio 1:1:3:1:1?
 * Each 1-run within half a module, the centre within 1.5 modules. */
static int
finder_ratio(const int r[5])
{
	int total = r[0] + r[1] + r[2] + r[3] + r[4];
	if (total < 7)
		return 0;
	double m = total / 7.0, tol = m / 2.0;
	for (int i = 0; i < 5; i++) {
		double want = i == 2 ? 3.0 * m : m;
		double d = r[i] - want;
		if (d < 0)
			d = -d;
		if (d >= (i == 2 ? 3.0 * tol : tol))
			return 0;
	}
	return 1;
}

/* Cross-checks down column x through row y (which is dark); on success sets
 * *cy to the vertical centre. Each run is bounded by maxrun. */
static int
finder_vertical(const uint8_t *bin, int w, int h, int x, int y, int maxrun, double *cy)
{
	int r[5] = { 0, 0, 0, 0, 0 };
	int i = y;
	while (i >= 0 && bin[(size_t)i * (size_t)w + (size_t)x] && r[2] <= maxrun) {
		r[2]++;
		i--;
	}
	while (i >= 0 && !bin[(size_t)i * (size_t)w + (size_t)x] && r[1] <= maxrun) {
		r[1]++;
		i--;
	}
	while (i >= 0 && bin[(size_t)i * (size_t)w + (size_t)x] && r[0] <= maxrun) {
		r[0]++;
		i--;
	}
	int top = i + 1 + r[0] + r[1]; /* first row of the centre run */
	i = y + 1;
	while (i < h && bin[(size_t)i * (size_t)w + (size_t)x] && r[2] <= maxrun) {
		r[2]++;
		i++;
	}
	while (i < h && !bin[(size_t)i * (size_t)w + (size_t)x] && r[3] <= maxrun) {
		r[3]++;
		i++;
	}
	while (i < h && bin[(size_t)i * (size_t)w + (size_t)x] && r[4] <= maxrun) {
		r[4]++;
		i++;
	}
	if (!finder_ratio(r))
		return 0;
	*cy = top + r[2] / 2.0;
	return 1;
}

static void
cluster_add(qr_cluster *c, size_t *n, double x, double y, double module)
{
	for (size_t i = 0; i < *n; i++) {
		double dx = c[i].x - x, dy = c[i].y - y;
		double near = 2.0 * (module > c[i].module ? module : c[i].module);
		if (dx > -near && dx < near && dy > -near && dy < near) {
			c[i].hits++;
			return;
		}
	}
	if (*n < QR_MAX_CLUSTERS) {
		c[*n] = (qr_cluster){ .x = x, .y = y, .module = module, .hits = 1 };
		(*n)++;
	}
}

/* Number of distinct finder patterns seen in a greyscale image. */
static int
count_finders(const uint8_t *gray, int w, int h)
{
	size_t n = (size_t)w * (size_t)h;
	uint8_t lo = 255, hi = 0;
	for (size_t i = 0; i < n; i++) {
		if (gray[i] < lo)
			lo = gray[i];
		if (gray[i] > hi)
			hi = gray[i];
	}
	if (hi - lo < 32)
		return 0; /* a flat image: nothing to see */
	uint8_t *bin = malloc(n);
	if (bin == NULL)
		return 0;
	int thr = (lo + hi) / 2;
	for (size_t i = 0; i < n; i++)
		bin[i] = gray[i] < thr;

	qr_cluster cl[QR_MAX_CLUSTERS];
	size_t ncl = 0;
	for (int y = 0; y < h; y++) {
		const uint8_t *row = bin + (size_t)y * (size_t)w;
		int r[5] = { 0, 0, 0, 0, 0 };
		int nr = 0;
		int x = 0;
		while (x < w) {
			int c = row[x], len = 0;
			while (x < w && row[x] == c) {
				len++;
				x++;
			}
			if (nr == 0 && !c)
				continue; /* patterns start dark */
			if (nr < 5) {
				r[nr++] = len;
			} else {
				memmove(r, r + 1, 4 * sizeof(int));
				r[4] = len;
			}
			if (nr == 5 && c && finder_ratio(r)) {
				int total = r[0] + r[1] + r[2] + r[3] + r[4];
				int cx = x - r[4] - r[3] - r[2] / 2 - 1;
				double cy;
				if (cx >= 0 && row[cx] &&
				    finder_vertical(bin, w, h, cx, y, total, &cy))
					cluster_add(cl, &ncl, cx, cy, total / 7.0);
			}
		}
	}
	free(bin);
	int found = 0;
	for (size_t i = 0; i < ncl; i++)
		if (cl[i].hits >= QR_MIN_CLUSTER_HITS)
			found++;
	return found;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                   */

/* Printable-ASCII quote of a foreign code's content, for the error message. */
static void
quote(const uint8_t *d, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && i < QR_QUOTE_MAX && o + 2 < cap; i++)
		out[o++] = d[i] >= 0x20 && d[i] < 0x7f ? (char)d[i] : '.';
	if (n > QR_QUOTE_MAX && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

int
link_qr_decode_gray(const uint8_t *gray, int w, int h, uint8_t **out, size_t *outlen,
    char *why, size_t whycap)
{
	int rc;
	zbar_image_scanner_t *sc = NULL;
	zbar_image_t *img = NULL;
	uint8_t *found = NULL;
	size_t found_len = 0;
	int eid_err = 0, foreign = 0;
	char q[QR_QUOTE_MAX + 8] = "";

	if (gray == NULL || w <= 0 || h <= 0 || out == NULL || outlen == NULL)
		return TS_EINVAL;
	if (w > LINK_QR_MAX_DIM || h > LINK_QR_MAX_DIM ||
	    (uint64_t)w * (uint64_t)h > LINK_QR_MAX_PIXELS)
		return TS_ELIMIT;
	sc = zbar_image_scanner_create();
	img = zbar_image_create();
	if (sc == NULL || img == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	/* Only QR codes, bytes unconverted, and also try the inverted image
	 * (a code photographed off a dark terminal). */
	(void)zbar_image_scanner_set_config(sc, 0, ZBAR_CFG_ENABLE, 0);
	if (zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1) != 0 ||
	    zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1) != 0) {
		ts_errbuf(why, whycap, "zbar lacks QR binary mode");
		rc = TS_EUNSUPP;
		goto fail;
	}
	(void)zbar_image_scanner_set_config(sc, 0, ZBAR_CFG_TEST_INVERTED, 1);
	zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(img, (unsigned)w, (unsigned)h);
	/* Borrowed: no cleanup handler, zbar never frees or writes it. */
	zbar_image_set_data(img, gray, (unsigned long)w * (unsigned long)h, NULL);
	int n = zbar_scan_image(sc, img);
	if (n < 0) {
		ts_errbuf(why, whycap, "the QR decoder failed");
		rc = TS_EIO;
		goto fail;
	}
	for (const zbar_symbol_t *s = zbar_image_first_symbol(img); s != NULL;
	     s = zbar_symbol_next(s)) {
		if (zbar_symbol_get_type(s) != ZBAR_QRCODE)
			continue;
		const uint8_t *d = (const uint8_t *)zbar_symbol_get_data(s);
		size_t dl = zbar_symbol_get_data_length(s);
		ndef_identity id;
		int drc = (d == NULL || dl == 0) ? TS_EPARSE : ndef_identity_decode(d, dl, &id);
		if (drc == TS_EEIDFMT || drc == TS_EEIDCHK) {
			eid_err = drc;
			continue;
		}
		if (drc != 0) {
			if (!foreign)
				quote(d != NULL ? d : (const uint8_t *)"", dl, q, sizeof(q));
			foreign = 1;
			continue;
		}
		if (found != NULL) {
			if (found_len == dl && memcmp(found, d, dl) == 0)
				continue; /* the same code seen twice */
			ts_errbuf(why, whycap,
			    "the image holds two different tapshare identities; show only one");
			rc = TS_EPARSE;
			goto fail;
		}
		found = malloc(dl);
		if (found == NULL) {
			rc = TS_ENOMEM;
			goto fail;
		}
		memcpy(found, d, dl);
		found_len = dl;
	}
	if (found != NULL) {
		*out = found;
		*outlen = found_len;
		found = NULL;
		rc = 0;
	} else if (eid_err != 0) {
		ts_errbuf(why, whycap, "the QR code is a tapshare identity with an invalid EID (%s)",
		    ts_strerror(eid_err));
		rc = eid_err;
	} else if (foreign) {
		ts_errbuf(why, whycap,
		    "foreign QR code: not a tapshare companion identity (it holds \"%s\")", q);
		rc = TS_EPROTO;
	} else if (count_finders(gray, w, h) >= 2) {
		ts_errbuf(why, whycap,
		    "a QR code is there but cannot be decoded: damaged beyond its error correction");
		rc = TS_EVERIFY;
	} else {
		ts_errbuf(why, whycap, "no QR code found in the image");
		rc = TS_ENOTFOUND;
	}
fail:
	if (img != NULL)
		zbar_image_destroy(img);
	if (sc != NULL)
		zbar_image_scanner_destroy(sc);
	free(found);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* qr:camera — zbarcam in a child process                                    */

/* Is prog an executable on PATH? */
static int
on_path(const char *prog)
{
	const char *path = getenv("PATH");
	if (path == NULL || path[0] == '\0')
		path = "/usr/bin:/bin";
	while (*path != '\0') {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		char full[4096];
		if (n > 0 && ts_snprintf(full, sizeof(full), "%.*s/%s", (int)n, path, prog) == 0 &&
		    access(full, X_OK) == 0)
			return 1;
		if (end == NULL)
			break;
		path = end + 1;
	}
	return 0;
}

/* The camera device named by arg ("camera" or "camera:DEVICE"), or NULL if
 * arg names a PNG file (a file called "camera" is reached as ./camera). */
static const char *
camera_dev(const char *arg)
{
	size_t n = strlen(LINK_QR_CAMERA);
	if (strncmp(arg, LINK_QR_CAMERA, n) != 0)
		return NULL;
	if (arg[n] == '\0')
		return LINK_QR_CAMERA_DEV;
	if (arg[n] == ':' && arg[n + 1] != '\0')
		return arg + n + 1;
	return NULL;
}

static int
camera_check(const char *dev, char *errbuf, size_t errcap)
{
	if (!on_path(LINK_QR_ZBARCAM)) {
		ts_errbuf(errbuf, errcap,
		    "no camera: qr:camera needs zbarcam (Debian package zbar-tools) on PATH");
		return TS_EUNSUPP;
	}
	if (access(dev, R_OK) != 0) {
		ts_errbuf(errbuf, errcap, "no camera: %s is missing or not readable", dev);
		return TS_EUNSUPP;
	}
	return 0;
}

/* Runs zbarcam until it reports one code or the deadline passes. zbarcam
 * prints the raw bytes followed by a newline. */
static int
camera_read(const char *dev, long timeout_ms, uint8_t **out, size_t *outlen)
{
	int rc;
	char why[256];
	int pfd[2] = { -1, -1 };
	pid_t pid = -1;
	uint8_t buf[NDEF_MAX_MESSAGE + 2];
	size_t n = 0;

	if ((rc = camera_check(dev, why, sizeof(why))) != 0) {
		log_error("qr link: %s", why);
		return rc;
	}
	if (pipe(pfd) != 0)
		return TS_EIO;
	pid = fork();
	if (pid < 0) {
		rc = TS_EIO;
		goto fail;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);
		if (devnull >= 0) {
			dup2(devnull, STDIN_FILENO);
			dup2(devnull, STDERR_FILENO);
		}
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execlp(LINK_QR_ZBARCAM, LINK_QR_ZBARCAM, "--nodisplay", "--raw", "--oneshot",
		    "-Sdisable", "-Sqrcode.enable", "-Sqrcode.binary", dev,
		    (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	int64_t deadline = ts_mono_ms() + timeout_ms;
	log_info("qr link: scanning with %s on %s (hold the companion's QR code up)",
	    LINK_QR_ZBARCAM, dev);
	for (;;) {
		int64_t left = deadline - ts_mono_ms();
		if (left <= 0) {
			log_error("qr link: no QR code seen by the camera in time");
			rc = TS_ETIMEOUT;
			goto fail;
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			rc = TS_EIO;
			goto fail;
		}
		if (pr == 0)
			continue;
		ssize_t r = read(pfd[0], buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = TS_EIO;
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == sizeof(buf)) {
			rc = TS_ELIMIT;
			goto fail;
		}
	}
	int st = 0;
	(void)waitpid(pid, &st, 0);
	pid = -1;
	if (n == 0) {
		log_error("qr link: %s ended without a code (status %d)", LINK_QR_ZBARCAM,
		    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		rc = TS_EIO;
		goto fail;
	}
	/* zbarcam ends the data with a newline; the message itself might too,
	 * so try without it first and keep it if that does not decode. */
	ndef_identity id;
	size_t len = n;
	if (buf[n - 1] == '\n' && ndef_identity_decode(buf, n - 1, &id) == 0)
		len = n - 1;
	rc = ndef_identity_decode(buf, len, &id);
	if (rc != 0 && rc != TS_EEIDFMT && rc != TS_EEIDCHK) {
		char q[QR_QUOTE_MAX + 8];
		quote(buf, len > 0 && buf[len - 1] == '\n' ? len - 1 : len, q, sizeof(q));
		log_error("qr link: foreign QR code: not a tapshare companion identity (it holds \"%s\")",
		    q);
		rc = TS_EPROTO;
		goto fail;
	}
	if (rc != 0) {
		log_error("qr link: the QR code is a tapshare identity with an invalid EID (%s)",
		    ts_strerror(rc));
		goto fail;
	}
	uint8_t *m = malloc(len);
	if (m == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	memcpy(m, buf, len);
	*out = m;
	*outlen = len;
	rc = 0;
fail:
	if (pid > 0) {
		kill(pid, SIGTERM);
		(void)waitpid(pid, NULL, 0);
	}
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Driver hooks                                                               */

int
link_qr_check(const char *arg, char *errbuf, size_t errcap)
{
	if (arg == NULL || arg[0] == '\0') {
		ts_errbuf(errbuf, errcap, "qr link needs a PNG file or 'camera' (qr:FILE.png, qr:camera)");
		return TS_EINVAL;
	}
	const char *dev = camera_dev(arg);
	if (dev != NULL)
		return camera_check(dev, errbuf, errcap);
	return 0;
}

int
link_qr_read(const char *arg, long timeout_ms, uint8_t **out, size_t *outlen)
{
	char why[512] = "";
	uint8_t *gray = NULL;
	int w = 0, h = 0;

	if (arg == NULL || out == NULL || outlen == NULL || timeout_ms < 0)
		return TS_EINVAL;
	const char *dev = camera_dev(arg);
	if (dev != NULL)
		return camera_read(dev, timeout_ms, out, outlen);
	int rc = link_qr_read_png(arg, &gray, &w, &h, why, sizeof(why));
	if (rc == 0)
		rc = link_qr_decode_gray(gray, w, h, out, outlen, why, sizeof(why));
	free(gray);
	if (rc != 0)
		log_error("qr link: %s", why[0] ? why : ts_strerror(rc));
	return rc;
}

/* The advertiser of qr:FILE.png is the PNG file itself. */
typedef struct qr_adv {
	char *path;
	dev_t dev;
	ino_t ino;
} qr_adv;

int
link_qr_advertise(const char *arg, const uint8_t *msg, size_t len, void **impl)
{
	int rc;
	uint8_t *mods = NULL;
	int width = 0;
	qr_adv *a = NULL;
	struct stat st;

	if (arg == NULL || msg == NULL || len == 0 || impl == NULL)
		return TS_EINVAL;
	if (camera_dev(arg) != NULL) {
		log_error("qr link: qr:camera is for reading; show the code with qr:FILE.png");
		return TS_EUNSUPP;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return TS_ENOMEM;
	a->path = strdup(arg);
	if (a->path == NULL) {
		rc = TS_ENOMEM;
		goto fail;
	}
	if ((rc = link_qr_encode(msg, len, &mods, &width)) != 0)
		goto fail;
	if ((rc = link_qr_write_png(arg, mods, width, LINK_QR_MODULE_PX)) != 0)
		goto fail;
	if (stat(arg, &st) != 0) {
		rc = TS_EIO;
		goto fail;
	}
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	log_info("qr link: identity QR code (%d modules) written to %s", width, arg);
	free(mods);
	*impl = a;
	return 0;
fail:
	free(mods);
	if (a != NULL)
		free(a->path);
	free(a);
	return rc;
}

void
link_qr_advertiser_free(void *impl)
{
	qr_adv *a = impl;
	if (a == NULL)
		return;
	/* Remove the code only if it is still the file we wrote. */
	struct stat st;
	if (lstat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
		unlink(a->path);
	free(a->path);
	free(a);
}
