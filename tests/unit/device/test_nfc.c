/* Tests for device/nfc (the `nfc:` link) without NFC hardware: argument
 * checks, and the clean failure when the named device does not exist. The
 * APDU logic itself is tested in tests/unit/lib/test_t4t.c. Works for both
 * builds: with libnfc (nfc_libnfc.c) and without (nfc_none.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "device/link.h"
#include "device/nfc.h"
#include "lib/ts_err.h"

/* A device that cannot exist, so the result does not depend on whether a
 * reader happens to be plugged into the test machine. */
#define NO_DEVICE "pn532_uart:/nonexistent/tapshare-test-tty"

static const uint8_t msg[] = { 0xD1, 0x01, 0x05, 'T', 0x02, 'e', 'n', 'h', 'i' };

static int
have_libnfc(void)
{
	return nfc_link_check("", NULL, 0) != TS_EUNSUPP;
}

static void
test_check(void **state)
{
	(void)state;
	char why[256] = "";
	static char longarg[1100];
	memset(longarg, 'a', sizeof(longarg) - 1);
	if (!have_libnfc()) {
		assert_int_equal(nfc_link_check(NO_DEVICE, why, sizeof(why)), TS_EUNSUPP);
		assert_non_null(strstr(why, "no NFC support"));
		assert_int_equal(link_spec_check("nfc:", why, sizeof(why)), TS_EUNSUPP);
		return;
	}
	assert_int_equal(nfc_link_check("", why, sizeof(why)), 0);
	assert_int_equal(nfc_link_check("pn532_uart:/dev/ttyUSB0", why, sizeof(why)), 0);
	assert_int_equal(nfc_link_check("acr122_usb", NULL, 0), 0);
	assert_int_equal(nfc_link_check(longarg, why, sizeof(why)), TS_EINVAL);
	assert_non_null(strstr(why, "too long"));
	assert_int_equal(nfc_link_check("pn532_uart:/dev/tty\nx", why, sizeof(why)), TS_EINVAL);
	assert_non_null(strstr(why, "control character"));
	assert_int_equal(nfc_link_check(NULL, NULL, 0), TS_EINVAL);
	/* Through the link table. */
	assert_int_equal(link_spec_check("nfc:", why, sizeof(why)), 0);
	assert_int_equal(link_spec_check("nfc:acr122_usb", why, sizeof(why)), 0);
	assert_string_equal(link_describe("nfc:"), "NFC Type 4 Tag");
}

static void
test_no_device(void **state)
{
	(void)state;
	uint8_t *out = (uint8_t *)1;
	size_t outlen = 5;
	void *h = (void *)1;
	link_advertiser *adv = NULL;
	int want = have_libnfc() ? TS_ENOTFOUND : TS_EUNSUPP;

	assert_int_equal(nfc_link_read(NO_DEVICE, 100, &out, &outlen), want);
	assert_ptr_equal(out, (uint8_t *)1); /* untouched on failure */
	assert_int_equal(nfc_link_advertise(NO_DEVICE, msg, sizeof(msg), &h), want);
	assert_ptr_equal(h, (void *)1);
	nfc_link_stop(NULL);

	out = NULL;
	assert_int_equal(link_read("nfc:" NO_DEVICE, 100, &out, &outlen), want);
	assert_null(out);
	assert_int_equal(link_advertise("nfc:" NO_DEVICE, msg, sizeof(msg), &adv), want);
	assert_null(adv);
}

static void
test_bad_arguments(void **state)
{
	(void)state;
	if (!have_libnfc())
		skip();
	uint8_t *out = NULL;
	size_t outlen = 0;
	void *h = NULL;
	static uint8_t big[NDEF_MAX_MESSAGE + 1];
	assert_int_equal(nfc_link_read(NO_DEVICE, -1, &out, &outlen), TS_EINVAL);
	assert_int_equal(nfc_link_read(NULL, 100, &out, &outlen), TS_EINVAL);
	assert_int_equal(nfc_link_read(NO_DEVICE, 100, NULL, &outlen), TS_EINVAL);
	assert_int_equal(nfc_link_advertise(NO_DEVICE, msg, 0, &h), TS_EINVAL);
	assert_int_equal(nfc_link_advertise(NO_DEVICE, NULL, 9, &h), TS_EINVAL);
	assert_int_equal(nfc_link_advertise(NO_DEVICE, msg, sizeof(msg), NULL), TS_EINVAL);
	assert_int_equal(nfc_link_advertise(NO_DEVICE, big, sizeof(big), &h), TS_ELIMIT);
	assert_null(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_no_device),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
