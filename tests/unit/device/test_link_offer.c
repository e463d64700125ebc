/* Tests for the offer direction of the sim link (device/link.c: link_write,
 * link_advertise_ex) and for lib/ndef_offer.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "device/link.h"
#include "lib/ndef.h"
#include "lib/ndef_offer.h"
#include "lib/pki.h"
#include "lib/rsp.h"
#include "lib/ts_err.h"
#include "lib/util.h"

typedef struct fixture {
	char dir[64];
	char sock[128];
	char spec[160];
} fixture;

/* What the offer callback saw (it runs on the advertiser's thread). */
typedef struct got {
	pthread_mutex_t mu;
	int calls;
	uint8_t msg[NDEF_MAX_MESSAGE];
	size_t len;
} got;

static void
on_offer(const uint8_t *msg, size_t len, void *arg)
{
	got *g = arg;
	pthread_mutex_lock(&g->mu);
	g->calls++;
	if (len <= sizeof(g->msg)) {
		memcpy(g->msg, msg, len);
		g->len = len;
	}
	pthread_mutex_unlock(&g->mu);
}

static int
calls(got *g)
{
	pthread_mutex_lock(&g->mu);
	int n = g->calls;
	pthread_mutex_unlock(&g->mu);
	return n;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Waits (bounded, 3 s) until the callback has run n times. */
static int
wait_calls(got *g, int n)
{
	for (int i = 0; i < 300; i++) {
		if (calls(g) >= n)
			return 1;
		sleep_ms(10);
	}
	return 0;
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	memcpy(f->dir, "/tmp/ts-offer-XXXXXX", sizeof("/tmp/ts-offer-XXXXXX"));
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(ts_snprintf(f->sock, sizeof(f->sock), "%s/link.sock", f->dir), 0);
	assert_int_equal(ts_snprintf(f->spec, sizeof(f->spec), "sim:%s", f->sock), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const uint8_t ident[] = { 0xd4, 0x0f, 0x03, 't', 'a', 'p', 's', 'h', 'a', 'r', 'e',
	'.', 'o', 'r', 'g', ':', 'i', 'd', 0x5a, 0x01, 0x89 };

/* ------------------------------------------------------------------------ */
/* ndef_offer                                                                 */

static void
test_ndef_offer_exact_bytes(void **state)
{
	(void)state;
	static const uint8_t offer[] = { 0xbf, 0x70, 0x02, 0x30, 0x00 };
	static const uint8_t want[] = { 0xd4, 18, 5, 't', 'a', 'p', 's', 'h', 'a', 'r', 'e', '.',
		'o', 'r', 'g', ':', 'o', 'f', 'f', 'e', 'r', 0xbf, 0x70, 0x02, 0x30, 0x00 };
	uint8_t *msg = NULL;
	size_t len = 0;
	assert_int_equal(ndef_offer_encode(offer, sizeof(offer), &msg, &len), 0);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(msg, want, sizeof(want));

	const uint8_t *p = NULL;
	size_t plen = 0;
	assert_int_equal(ndef_offer_decode(msg, len, &p, &plen), 0);
	assert_int_equal(plen, sizeof(offer));
	assert_memory_equal(p, offer, sizeof(offer));
	assert_ptr_equal(p, msg + 21); /* borrowed from the message */
	free(msg);
}

static void
test_ndef_offer_large_payload_round_trip(void **state)
{
	(void)state;
	uint8_t *big = malloc(NDEF_OFFER_MAX + 1);
	assert_non_null(big);
	for (size_t i = 0; i <= NDEF_OFFER_MAX; i++)
		big[i] = (uint8_t)(i * 7);
	uint8_t *msg = NULL;
	size_t len = 0;
	assert_int_equal(ndef_offer_encode(big, NDEF_OFFER_MAX + 1, &msg, &len), TS_ELIMIT);
	assert_null(msg);
	assert_int_equal(ndef_offer_encode(big, 0, &msg, &len), TS_EINVAL);
	assert_int_equal(ndef_offer_encode(big, NDEF_OFFER_MAX, &msg, &len), 0);
	assert_true(len <= NDEF_MAX_MESSAGE);
	assert_int_equal(msg[0] & 0x10, 0); /* long record: no SR */
	const uint8_t *p = NULL;
	size_t plen = 0;
	assert_int_equal(ndef_offer_decode(msg, len, &p, &plen), 0);
	assert_int_equal(plen, NDEF_OFFER_MAX);
	assert_memory_equal(p, big, NDEF_OFFER_MAX);
	free(msg);
	free(big);
}

static void
test_ndef_offer_decode_refusals(void **state)
{
	(void)state;
	const uint8_t *p = NULL;
	size_t plen = 0;
	static const uint8_t payload[] = { 0x01, 0x02 };

	/* An identity message carries no offer. */
	assert_int_equal(ndef_offer_decode(ident, sizeof(ident), &p, &plen), TS_ENOTFOUND);

	/* Two offer records: ambiguous. The type compares case-insensitively. */
	ndef_record recs[3];
	memset(recs, 0, sizeof(recs));
	recs[0].tnf = NDEF_TNF_EXTERNAL;
	recs[0].type = (const uint8_t *)"tapshare.org:offer";
	recs[0].type_len = 18;
	recs[0].payload = payload;
	recs[0].payload_len = sizeof(payload);
	recs[1] = recs[0];
	recs[1].type = (const uint8_t *)"TapShare.ORG:Offer";
	uint8_t *msg = NULL;
	size_t len = 0;
	assert_int_equal(ndef_encode(recs, 2, &msg, &len), 0);
	assert_int_equal(ndef_offer_decode(msg, len, &p, &plen), TS_EPARSE);
	free(msg);

	/* Upper case alone is found; a record of another TNF with the same type
	 * name is not an offer. */
	recs[2] = recs[1];
	recs[2].payload_len = 1;
	recs[0].tnf = NDEF_TNF_MIME;
	assert_int_equal(ndef_encode((ndef_record[]){ recs[0], recs[2] }, 2, &msg, &len), 0);
	assert_int_equal(ndef_offer_decode(msg, len, &p, &plen), 0);
	assert_int_equal(plen, 1);
	assert_int_equal(p[0], 0x01);
	free(msg);

	/* Empty payload. */
	recs[2].payload_len = 0;
	assert_int_equal(ndef_encode(&recs[2], 1, &msg, &len), 0);
	assert_int_equal(ndef_offer_decode(msg, len, &p, &plen), TS_EPARSE);
	free(msg);

	/* Not NDEF at all / trailing bytes. */
	static const uint8_t junk[] = { 0x00, 0x01, 0x02 };
	assert_int_not_equal(ndef_offer_decode(junk, sizeof(junk), &p, &plen), 0);
	assert_int_equal(ndef_offer_encode(payload, sizeof(payload), &msg, &len), 0);
	uint8_t *longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, msg, len);
	longer[len] = 0;
	assert_int_equal(ndef_offer_decode(longer, len + 1, &p, &plen), TS_ETRAILING);
	free(longer);
	free(msg);
}

/* ------------------------------------------------------------------------ */
/* The sim link, offer direction                                              */

static void
test_write_round_trip(void **state)
{
	fixture *f = *state;
	got g = { .mu = PTHREAD_MUTEX_INITIALIZER };
	link_advertiser *adv = NULL;
	assert_int_equal(link_advertise_ex(f->spec, ident, sizeof(ident), on_offer, &g, &adv), 0);

	static const uint8_t offer[] = { 0xd4, 0x12, 0x03, 'x', 'y', 'z' };
	for (int i = 1; i <= 2; i++) {
		uint8_t *id = NULL;
		size_t idlen = 0;
		assert_int_equal(link_write(f->spec, 2000, offer, sizeof(offer), &id, &idlen), 0);
		assert_int_equal(idlen, sizeof(ident));
		assert_memory_equal(id, ident, sizeof(ident));
		free(id);
		assert_true(wait_calls(&g, i));
		pthread_mutex_lock(&g.mu);
		assert_int_equal(g.calls, i);
		assert_int_equal(g.len, sizeof(offer));
		assert_memory_equal(g.msg, offer, sizeof(offer));
		pthread_mutex_unlock(&g.mu);
	}
	link_advertiser_free(adv);
}

static void
test_plain_reader_sends_no_offer_and_is_not_delayed(void **state)
{
	fixture *f = *state;
	got g = { .mu = PTHREAD_MUTEX_INITIALIZER };
	link_advertiser *adv = NULL;
	assert_int_equal(link_advertise_ex(f->spec, ident, sizeof(ident), on_offer, &g, &adv), 0);

	/* link_read closes after reading: the advertiser sees EOF at once, so
	 * five readers in a row take far less than five offer windows. */
	int64_t t0 = ts_mono_ms();
	for (int i = 0; i < 5; i++) {
		uint8_t *out = NULL;
		size_t len = 0;
		assert_int_equal(link_read(f->spec, 2000, &out, &len), 0);
		assert_int_equal(len, sizeof(ident));
		assert_memory_equal(out, ident, sizeof(ident));
		free(out);
	}
	assert_true(ts_mono_ms() - t0 < 1500);
	sleep_ms(100);
	assert_int_equal(calls(&g), 0);
	link_advertiser_free(adv);
}

/* Connects by hand to play a misbehaving reader. */
static int
raw_connect(const fixture *f)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	uint8_t buf[2 + sizeof(ident)];
	size_t off = 0;
	while (off < sizeof(buf)) {
		ssize_t r = read(fd, buf + off, sizeof(buf) - off);
		assert_true(r > 0);
		off += (size_t)r;
	}
	assert_int_equal(buf[0], 0);
	assert_int_equal(buf[1], sizeof(ident));
	return fd;
}

static void
test_bad_frames_are_dropped_and_link_keeps_serving(void **state)
{
	fixture *f = *state;
	got g = { .mu = PTHREAD_MUTEX_INITIALIZER };
	link_advertiser *adv = NULL;
	assert_int_equal(link_advertise_ex(f->spec, ident, sizeof(ident), on_offer, &g, &adv), 0);

	/* Oversized length: dropped without reading it. */
	int fd = raw_connect(f);
	static const uint8_t huge[] = { 0xff, 0xff, 1, 2, 3 };
	assert_int_equal(write(fd, huge, sizeof(huge)), (ssize_t)sizeof(huge));
	close(fd);

	/* Zero length. */
	fd = raw_connect(f);
	static const uint8_t empty[] = { 0x00, 0x00 };
	assert_int_equal(write(fd, empty, sizeof(empty)), (ssize_t)sizeof(empty));
	close(fd);

	/* Truncated: says 10 bytes, sends 3 and closes. */
	fd = raw_connect(f);
	static const uint8_t cut[] = { 0x00, 0x0a, 1, 2, 3 };
	assert_int_equal(write(fd, cut, sizeof(cut)), (ssize_t)sizeof(cut));
	close(fd);

	/* Idle reader: holds the connection past the offer window, then writes. */
	fd = raw_connect(f);
	int64_t t0 = ts_mono_ms();
	uint8_t *id = NULL;
	size_t idlen = 0;
	static const uint8_t offer[] = { 0xaa };
	/* The next reader is served once the idle one's window (500 ms) ends. */
	assert_int_equal(link_write(f->spec, 3000, offer, sizeof(offer), &id, &idlen), 0);
	int64_t waited = ts_mono_ms() - t0;
	assert_true(waited >= 400 && waited < 2500);
	free(id);
	static const uint8_t late[] = { 0x00, 0x01, 0xbb };
	(void)send(fd, late, sizeof(late), MSG_NOSIGNAL); /* the advertiser has closed */
	close(fd);

	assert_true(wait_calls(&g, 1));
	sleep_ms(100);
	pthread_mutex_lock(&g.mu);
	assert_int_equal(g.calls, 1); /* only the well-formed, timely one */
	assert_int_equal(g.len, 1);
	assert_int_equal(g.msg[0], 0xaa);
	pthread_mutex_unlock(&g.mu);
	link_advertiser_free(adv);
}

static void
test_write_refusals(void **state)
{
	fixture *f = *state;
	uint8_t *id = NULL;
	size_t idlen = 0;
	static const uint8_t offer[] = { 0x01 };

	/* Nobody advertises: bounded wait. */
	int64_t t0 = ts_mono_ms();
	assert_int_equal(link_write(f->spec, 200, offer, sizeof(offer), &id, &idlen), TS_ETIMEOUT);
	assert_true(ts_mono_ms() - t0 < 1500);
	assert_null(id);

	/* A QR code is one-way. */
	assert_int_equal(link_write("qr:/nonexistent/x.png", 200, offer, sizeof(offer), &id,
	    &idlen), TS_EUNSUPP);
	assert_int_equal(link_write("bogus:x", 200, offer, sizeof(offer), &id, &idlen),
	    TS_EUNSUPP);
	assert_int_equal(link_write(f->spec, 200, offer, 0, &id, &idlen), TS_EINVAL);
	uint8_t *big = calloc(1, NDEF_MAX_MESSAGE + 1);
	assert_non_null(big);
	assert_int_equal(link_write(f->spec, 200, big, NDEF_MAX_MESSAGE + 1, &id, &idlen),
	    TS_ELIMIT);
	free(big);
}

/* The whole thing as the programs use it: a signed BF70 in an NDEF offer
 * record, written by the primary, parsed by the companion's callback. */
static void
test_signed_offer_over_the_link(void **state)
{
	fixture *f = *state;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	uint8_t *der = NULL, *bf70 = NULL, *msg = NULL, *id = NULL;
	size_t der_len = 0, bf70_len = 0, msg_len = 0, idlen = 0;
	got g = { .mu = PTHREAD_MUTEX_INITIALIZER };
	link_advertiser *adv = NULL;

	assert_int_equal(pki_keygen(&key), 0);
	pki_issue_opts io = { .profile = PKI_PROFILE_ROOT_CA, .cn = "phone", .days = 1 };
	assert_int_equal(pki_issue(NULL, key, key, &io, &cert), 0);
	assert_int_equal(pki_cert_to_der(cert, &der, &der_len), 0);
	rsp_offer o;
	memset(&o, 0, sizeof(o));
	memcpy(o.app_id, "sim-alice", sizeof("sim-alice"));
	assert_int_equal(pki_pubkey_id(key, o.device_id), 0);
	o.expires_at = 2000000000;
	for (size_t i = 0; i < RSP_OFFER_NONCE_LEN; i++)
		o.nonce[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(rsp_offer_sign(&o, key, der, der_len, &bf70, &bf70_len), 0);
	assert_int_equal(ndef_offer_encode(bf70, bf70_len, &msg, &msg_len), 0);

	assert_int_equal(link_advertise_ex(f->spec, ident, sizeof(ident), on_offer, &g, &adv), 0);
	assert_int_equal(link_write(f->spec, 2000, msg, msg_len, &id, &idlen), 0);
	assert_true(wait_calls(&g, 1));
	link_advertiser_free(adv);

	const uint8_t *p = NULL;
	size_t plen = 0;
	assert_int_equal(ndef_offer_decode(g.msg, g.len, &p, &plen), 0);
	assert_int_equal(plen, bf70_len);
	assert_memory_equal(p, bf70, bf70_len);
	rsp_offer back;
	assert_int_equal(rsp_offer_decode(p, plen, &back), 0);
	assert_string_equal(back.app_id, "sim-alice");
	assert_string_equal(back.device_id, o.device_id);
	assert_int_equal(back.expires_at, 2000000000);
	assert_memory_equal(back.nonce, o.nonce, RSP_OFFER_NONCE_LEN);
	assert_int_equal(back.cert_len, der_len);

	/* One flipped bit in the nonce: the signature no longer verifies. */
	uint8_t *bad = malloc(bf70_len);
	assert_non_null(bad);
	memcpy(bad, bf70, bf70_len);
	size_t at = 0;
	while (at + RSP_OFFER_NONCE_LEN <= bf70_len && memcmp(bad + at, o.nonce, RSP_OFFER_NONCE_LEN) != 0)
		at++;
	assert_true(at + RSP_OFFER_NONCE_LEN <= bf70_len);
	bad[at + 3] ^= 0x01;
	assert_int_equal(rsp_offer_decode(bad, bf70_len, &back), TS_EVERIFY);
	free(bad);

	free(id);
	free(msg);
	free(bf70);
	free(der);
	X509_free(cert);
	EVP_PKEY_free(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ndef_offer_exact_bytes),
		cmocka_unit_test(test_ndef_offer_large_payload_round_trip),
		cmocka_unit_test(test_ndef_offer_decode_refusals),
		cmocka_unit_test_setup_teardown(test_write_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_reader_sends_no_offer_and_is_not_delayed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_frames_are_dropped_and_link_keeps_serving,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signed_offer_over_the_link, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
