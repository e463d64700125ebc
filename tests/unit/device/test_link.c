/* Tests for device/link.c: the sim (simulated proximity link) driver. */
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
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "device/link.h"
#include "lib/ndef.h"
#include "lib/ts_err.h"
#include "lib/util.h"

typedef struct fixture {
	char dir[64];
	char sock[128];
	char spec[160];
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	memcpy(f->dir, "/tmp/ts-link-XXXXXX", sizeof("/tmp/ts-link-XXXXXX"));
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

static const uint8_t msg_bytes[] = { 0xd4, 0x0f, 0x03, 't', 'a', 'p', 's', 'h', 'a', 'r', 'e',
	'.', 'o', 'r', 'g', ':', 'i', 'd', 0x5a, 0x01, 0x89 };

static void
test_advertise_then_read_exact_bytes(void **state)
{
	fixture *f = *state;
	link_advertiser *adv = NULL;
	assert_int_equal(link_advertise(f->spec, msg_bytes, sizeof(msg_bytes), &adv), 0);

	struct stat st;
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Every reader gets the same frame. */
	for (int i = 0; i < 3; i++) {
		uint8_t *out = NULL;
		size_t len = 0;
		assert_int_equal(link_read(f->spec, 2000, &out, &len), 0);
		assert_int_equal(len, sizeof(msg_bytes));
		assert_memory_equal(out, msg_bytes, sizeof(msg_bytes));
		free(out);
	}
	link_advertiser_free(adv);
	/* The socket is gone after free. */
	assert_int_equal(lstat(f->sock, &st), -1);
}

static void
test_wire_frame_is_be_length_then_message(void **state)
{
	fixture *f = *state;
	link_advertiser *adv = NULL;
	assert_int_equal(link_advertise(f->spec, msg_bytes, sizeof(msg_bytes), &adv), 0);

	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	uint8_t buf[256];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, sizeof(buf) - got);
		assert_true(r >= 0);
		if (r == 0)
			break; /* the advertiser closes after one frame */
		got += (size_t)r;
	}
	close(fd);
	assert_int_equal(got, 2 + sizeof(msg_bytes));
	assert_int_equal(buf[0], 0x00);
	assert_int_equal(buf[1], sizeof(msg_bytes));
	assert_memory_equal(buf + 2, msg_bytes, sizeof(msg_bytes));
	link_advertiser_free(adv);
}

static void
test_stale_socket_replaced_regular_file_kept(void **state)
{
	fixture *f = *state;
	link_advertiser *a1 = NULL, *a2 = NULL;
	/* Leave a stale socket behind: bind without unlinking. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, f->sock, strlen(f->sock) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(link_advertise(f->spec, msg_bytes, sizeof(msg_bytes), &a1), 0);
	uint8_t *out = NULL;
	size_t len = 0;
	assert_int_equal(link_read(f->spec, 2000, &out, &len), 0);
	assert_int_equal(len, sizeof(msg_bytes));
	free(out);
	link_advertiser_free(a1);

	/* A regular file at the path is not ours to delete. */
	FILE *fp = fopen(f->sock, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(link_advertise(f->spec, msg_bytes, sizeof(msg_bytes), &a2), TS_EEXIST);
	assert_null(a2);
	struct stat st;
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static void
test_read_times_out_without_advertiser(void **state)
{
	fixture *f = *state;
	uint8_t *out = NULL;
	size_t len = 0;
	int64_t t0 = ts_mono_ms();
	assert_int_equal(link_read(f->spec, 300, &out, &len), TS_ETIMEOUT);
	int64_t dt = ts_mono_ms() - t0;
	assert_true(dt >= 290);
	assert_true(dt < 3000);
	assert_null(out);
}

typedef struct late_arg {
	const char *spec;
	link_advertiser *adv;
	int rc;
} late_arg;

static void *
late_advertiser(void *p)
{
	late_arg *la = p;
	usleep(200 * 1000);
	la->rc = link_advertise(la->spec, msg_bytes, sizeof(msg_bytes), &la->adv);
	return NULL;
}

static void
test_read_waits_for_late_advertiser(void **state)
{
	fixture *f = *state;
	late_arg la = { .spec = f->spec, .adv = NULL, .rc = -100 };
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, late_advertiser, &la), 0);
	uint8_t *out = NULL;
	size_t len = 0;
	int rc = link_read(f->spec, 5000, &out, &len);
	pthread_join(th, NULL);
	assert_int_equal(la.rc, 0);
	assert_int_equal(rc, 0);
	assert_int_equal(len, sizeof(msg_bytes));
	assert_memory_equal(out, msg_bytes, sizeof(msg_bytes));
	free(out);
	link_advertiser_free(la.adv);
}

static void
test_unknown_and_unimplemented_schemes(void **state)
{
	(void)state;
	uint8_t *out = NULL;
	size_t len = 0;
	char why[256];
	link_advertiser *adv = NULL;
	assert_int_equal(link_read("bluetooth:aa:bb", 100, &out, &len), TS_EUNSUPP);
	assert_int_equal(link_read("/no/scheme", 100, &out, &len), TS_EUNSUPP);
	assert_int_equal(link_read("qr:/nonexistent/x.png", 100, &out, &len), TS_EIO);
	/* A named NFC device that does not exist: a clear "not found", whichever
	 * backend (libnfc or the stub, TS_EUNSUPP) was built. */
	int nfc_rc = link_advertise("nfc:pn532_uart:/nonexistent", msg_bytes, sizeof(msg_bytes), &adv);
	assert_true(nfc_rc == TS_ENOTFOUND || nfc_rc == TS_EUNSUPP);
	assert_null(adv);
	assert_int_equal(link_spec_check("bluetooth:x", why, sizeof(why)), TS_EUNSUPP);
	assert_non_null(strstr(why, "unknown link"));
	assert_int_equal(link_spec_check("qr:x.png", why, sizeof(why)), 0);
	assert_int_equal(link_spec_check("sim:", why, sizeof(why)), TS_EINVAL);
	assert_int_equal(link_spec_check("sim:/tmp/a.sock", why, sizeof(why)), 0);
	assert_string_equal(link_describe("sim:/tmp/a.sock"), "simulated proximity link");
	char longpath[300];
	memset(longpath, 'a', sizeof(longpath) - 1);
	memcpy(longpath, "sim:/", 5);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_int_equal(link_spec_check(longpath, why, sizeof(why)), TS_EINVAL);
	assert_null(out);
}

/* A fake companion that sends a raw frame (possibly lying about its length). */
typedef struct raw_srv {
	int lfd;
	uint8_t frame[8];
	size_t frame_len;
} raw_srv;

static void *
raw_server(void *p)
{
	raw_srv *s = p;
	int c = accept(s->lfd, NULL, NULL);
	if (c >= 0) {
		ssize_t w = write(c, s->frame, s->frame_len);
		(void)w;
		usleep(100 * 1000);
		close(c);
	}
	return NULL;
}

static int
raw_listen(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	return fd;
}

static int
read_from_raw(fixture *f, const uint8_t *frame, size_t flen, long timeout_ms)
{
	raw_srv s = { .lfd = raw_listen(f->sock), .frame_len = flen };
	memcpy(s.frame, frame, flen);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, raw_server, &s), 0);
	uint8_t *out = NULL;
	size_t len = 0;
	int rc = link_read(f->spec, timeout_ms, &out, &len);
	pthread_join(th, NULL);
	close(s.lfd);
	unlink(f->sock);
	free(out);
	return rc;
}

static void
test_oversize_frame_refused(void **state)
{
	fixture *f = *state;
	/* NDEF_MAX_MESSAGE + 1 announced: refused before anything is read. */
	uint8_t big[4] = { (NDEF_MAX_MESSAGE + 1) >> 8, (NDEF_MAX_MESSAGE + 1) & 0xff, 0xd1, 0x01 };
	assert_int_equal(read_from_raw(f, big, sizeof(big), 2000), TS_ELIMIT);
	uint8_t huge[2] = { 0xff, 0xff };
	assert_int_equal(read_from_raw(f, huge, sizeof(huge), 2000), TS_ELIMIT);
	/* Advertising an oversize message is refused too. */
	uint8_t *m = calloc(1, NDEF_MAX_MESSAGE + 1);
	assert_non_null(m);
	link_advertiser *adv = NULL;
	assert_int_equal(link_advertise(f->spec, m, NDEF_MAX_MESSAGE + 1, &adv), TS_ELIMIT);
	assert_null(adv);
	free(m);
}

static void
test_short_and_empty_frames(void **state)
{
	fixture *f = *state;
	/* Announces 5 bytes, sends 2, closes. */
	uint8_t shortf[4] = { 0x00, 0x05, 0xd1, 0x01 };
	assert_int_equal(read_from_raw(f, shortf, sizeof(shortf), 2000), TS_EPROTO);
	uint8_t empty[2] = { 0x00, 0x00 };
	assert_int_equal(read_from_raw(f, empty, sizeof(empty), 2000), TS_EPROTO);
}

static void
test_read_identity_roundtrip(void **state)
{
	fixture *f = *state;
	ndef_identity in, got;
	memset(&in, 0, sizeof(in));
	assert_int_equal(eid_parse("89049032123451234512345678901235", &in.eid), 0);
	memcpy(in.name, "Alice's watch", sizeof("Alice's watch"));
	memcpy(in.model, "W1", 3);
	uint8_t *msg = NULL;
	size_t len = 0;
	assert_int_equal(ndef_identity_encode(&in, &msg, &len), 0);
	link_advertiser *adv = NULL;
	assert_int_equal(link_advertise(f->spec, msg, len, &adv), 0);
	memset(&got, 0xa5, sizeof(got));
	assert_int_equal(link_read_identity(f->spec, 2000, &got), 0);
	assert_string_equal(got.eid.digits, "89049032123451234512345678901235");
	assert_string_equal(got.name, "Alice's watch");
	assert_string_equal(got.model, "W1");
	link_advertiser_free(adv);

	/* An identity record whose EID TLV is malformed is refused. */
	assert_int_equal(link_advertise(f->spec, msg_bytes, sizeof(msg_bytes), &adv), 0);
	assert_true(link_read_identity(f->spec, 2000, &got) < 0);
	link_advertiser_free(adv);
	free(msg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_advertise_then_read_exact_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wire_frame_is_be_length_then_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced_regular_file_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_times_out_without_advertiser, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_waits_for_late_advertiser, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_and_unimplemented_schemes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversize_frame_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_and_empty_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_identity_roundtrip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
