/*
 * nfc_libnfc.c — the `nfc:` link over libnfc (contracts in device/nfc.h,
 * hardware notes in docs/nfc.md). Only moves APDU bytes: every decision
 * about them is in lib/t4t.
 *
 * Primary: initiator, polls for an ISO 14443-A target at 106 kbit/s with
 * NP_INFINITE_SELECT off (so the wait is ours to bound), requires SAK bit 6
 * (ISO 14443-4 compliant), lets libnfc send RATS (NP_AUTO_ISO14443_4), then
 * runs t4t_read_ndef over nfc_initiator_transceive_bytes.
 *
 * Companion: target mode as an ISO 14443-4 PICC. With a PN532, libnfc asks
 * the chip for its ISO 14443-4 PICC mode (TgInitAsTarget) when the emulated
 * target has SAK 0x20 and NP_AUTO_ISO14443_4 is on; the chip then answers
 * anticollision and RATS itself and hands us APDUs. The PN532 fixes the
 * first UID byte to 08h ("random UID") and a 4-byte UID, which is what we
 * ask for. The emulation thread uses bounded timeouts on every libnfc call
 * and checks its stop flag between them; libnfc is not used from two
 * threads at once (the caller only touches the device after the join).
 *
 * NOT TESTED against real hardware here (no reader on the build machine):
 * it builds, and without a device it fails cleanly with TS_ENOTFOUND.
 */
#include "device/nfc.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nfc/nfc.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "lib/log.h"
#include "lib/t4t.h"
#include "lib/ts_err.h"
#include "lib/util.h"

/* One APDU exchange with the tag; ISO-DEP frame waiting times are far
 * shorter, so a second means the tag has left the field. */
#define NFC_LINK_XFER_TIMEOUT_MS 1000
/* Pause between polls for a tag while none is in the field. */
#define NFC_LINK_RETRY_MS 100
/* A reader that stays in the field without sending anything for this long
 * is dropped, and the tag is offered afresh. */
#define NFC_LINK_IDLE_MS 5000
/* Receive buffer for C-APDUs: the largest short APDU plus slack for a
 * reader that sends more (it gets 6700, not a truncated read). */
#define NFC_LINK_RX_MAX 300

#define NFC_NO_DEVICE_MSG "connect a PN532/ACR122U, see docs/nfc.md"

static void
sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* libnfc error code -> ours. */
static int
map_nfc_err(int e)
{
	switch (e) {
	case NFC_ETIMEOUT:
		return TS_ETIMEOUT;
	case NFC_EDEVNOTSUPP:
	case NFC_ENOTIMPL:
		return TS_EUNSUPP;
	case NFC_ENOTSUCHDEV:
		return TS_ENOTFOUND;
	case NFC_EINVARG:
		return TS_EINVAL;
	default:
		return TS_EIO;
	}
}

int
nfc_link_check(const char *arg, char *errbuf, size_t errcap)
{
	if (arg == NULL)
		return TS_EINVAL;
	size_t n = strlen(arg);
	if (n >= NFC_BUFSIZE_CONNSTRING) {
		ts_errbuf(errbuf, errcap, "nfc link: device connstring is too long (%zu bytes)", n);
		return TS_EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)arg[i] < 0x20 || arg[i] == 0x7f) {
			ts_errbuf(errbuf, errcap, "nfc link: control character in device connstring");
			return TS_EINVAL;
		}
	}
	return 0;
}

/* Opens libnfc and the device named by arg ("" = libnfc's default). */
static int
open_device(const char *arg, nfc_context **ctx, nfc_device **pnd)
{
	*ctx = NULL;
	*pnd = NULL;
	int rc = nfc_link_check(arg, NULL, 0);
	if (rc != 0)
		return rc;
	nfc_init(ctx);
	if (*ctx == NULL) {
		log_error("nfc link: libnfc could not be initialised");
		return TS_ENOMEM;
	}
	*pnd = nfc_open(*ctx, arg[0] != '\0' ? arg : NULL);
	if (*pnd == NULL) {
		log_error("nfc link: no NFC device found (libnfc)%s%s: " NFC_NO_DEVICE_MSG,
		    arg[0] != '\0' ? " at " : "", arg);
		nfc_exit(*ctx);
		*ctx = NULL;
		return TS_ENOTFOUND;
	}
	return 0;
}

static void
close_device(nfc_context *ctx, nfc_device *pnd)
{
	if (pnd != NULL)
		nfc_close(pnd);
	if (ctx != NULL)
		nfc_exit(ctx);
}

/* ------------------------------------------------------------------------ */
/* Primary: reader */

static int
initiator_xfer(void *arg, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t rcap,
    size_t *rlen)
{
	nfc_device *pnd = arg;
	int r = nfc_initiator_transceive_bytes(pnd, capdu, clen, rapdu, rcap,
	    NFC_LINK_XFER_TIMEOUT_MS);
	if (r < 0) {
		log_error("nfc link: exchange with the tag failed: %s", nfc_strerror(pnd));
		return map_nfc_err(r);
	}
	*rlen = (size_t)r;
	return 0;
}

/* Waits until deadline for an ISO 14443-4 Type A target and selects it. */
static int
select_tag(nfc_device *pnd, int64_t deadline)
{
	const nfc_modulation nm = { .nmt = NMT_ISO14443A, .nbr = NBR_106 };
	nfc_target nt;
	for (;;) {
		memset(&nt, 0, sizeof(nt));
		int r = nfc_initiator_select_passive_target(pnd, nm, NULL, 0, &nt);
		if (r > 0)
			break;
		if (r < 0 && r != NFC_ETIMEOUT) {
			log_error("nfc link: polling for a tag failed: %s", nfc_strerror(pnd));
			return map_nfc_err(r);
		}
		int64_t left = deadline - ts_mono_ms();
		if (left <= 0) {
			log_error("nfc link: no tag came into the field in time");
			return TS_ETIMEOUT;
		}
		sleep_ms(left < NFC_LINK_RETRY_MS ? (long)left : NFC_LINK_RETRY_MS);
	}
	/* SAK bit 6 (0x20): the target speaks ISO 14443-4, which a Type 4 Tag
	 * must; a MIFARE Classic or Type 2 tag does not. */
	if (!(nt.nti.nai.btSak & 0x20)) {
		log_error("nfc link: the tag is not ISO 14443-4 (SAK %02X), so not a Type 4 Tag",
		    nt.nti.nai.btSak);
		(void)nfc_initiator_deselect_target(pnd);
		return TS_EUNSUPP;
	}
	return 0;
}

int
nfc_link_read(const char *arg, long timeout_ms, uint8_t **out, size_t *outlen)
{
	nfc_context *ctx = NULL;
	nfc_device *pnd = NULL;
	uint8_t *msg = NULL;
	size_t len = 0;
	int selected = 0;
	int rc;

	if (arg == NULL || out == NULL || outlen == NULL || timeout_ms < 0)
		return TS_EINVAL;
	int64_t deadline = ts_mono_ms() + timeout_ms;
	if ((rc = open_device(arg, &ctx, &pnd)) != 0)
		return rc;
	if (nfc_initiator_init(pnd) < 0) {
		log_error("nfc link: %s cannot act as a reader: %s", nfc_device_get_name(pnd),
		    nfc_strerror(pnd));
		rc = TS_EIO;
		goto fail;
	}
	if (nfc_device_set_property_bool(pnd, NP_INFINITE_SELECT, false) < 0 ||
	    nfc_device_set_property_bool(pnd, NP_AUTO_ISO14443_4, true) < 0) {
		log_error("nfc link: configuring %s failed: %s", nfc_device_get_name(pnd),
		    nfc_strerror(pnd));
		rc = TS_EIO;
		goto fail;
	}
	log_info("nfc link: %s waiting up to %ld ms for the companion's tag",
	    nfc_device_get_name(pnd), timeout_ms);
	if ((rc = select_tag(pnd, deadline)) != 0)
		goto fail;
	selected = 1;
	if ((rc = t4t_read_ndef(initiator_xfer, pnd, &msg, &len, NULL)) != 0) {
		log_error("nfc link: reading the Type 4 Tag failed: %s", ts_strerror(rc));
		goto fail;
	}
	if (len == 0) {
		log_error("nfc link: the tag holds no NDEF message");
		rc = TS_ENOTFOUND;
		goto fail;
	}
	(void)nfc_initiator_deselect_target(pnd);
	close_device(ctx, pnd);
	*out = msg;
	*outlen = len;
	return 0;

fail:
	if (selected)
		(void)nfc_initiator_deselect_target(pnd);
	close_device(ctx, pnd);
	free(msg);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Companion: emulated Type 4 Tag */

typedef struct nfc_adv {
	nfc_context *ctx;
	nfc_device *pnd;
	pthread_t thread;
	atomic_int stop;
	uint8_t uid[3]; /* UID bytes after the fixed 08h */
	t4t_tag tag;
} nfc_adv;

static void
emulated_target(const nfc_adv *a, nfc_target *nt)
{
	memset(nt, 0, sizeof(*nt));
	nt->nm.nmt = NMT_ISO14443A;
	nt->nm.nbr = NBR_UNDEFINED; /* the reader picks the rate */
	nt->nti.nai.abtAtqa[0] = 0x00;
	nt->nti.nai.abtAtqa[1] = 0x04; /* single-size UID */
	nt->nti.nai.szUidLen = 4;
	nt->nti.nai.abtUid[0] = 0x08; /* random UID (ISO 14443-3), as the PN532 requires */
	memcpy(nt->nti.nai.abtUid + 1, a->uid, sizeof(a->uid));
	nt->nti.nai.btSak = 0x20; /* ISO 14443-4 compliant */
}

/* Serves one reader: the first C-APDU is in rx[0..n). Returns when the
 * reader leaves, goes quiet for NFC_LINK_IDLE_MS, or we are stopped. */
static void
serve_reader(nfc_adv *a, uint8_t *rx, int n)
{
	uint8_t tx[T4T_RAPDU_MAX];
	size_t tlen = 0;
	t4t_tag_reset(&a->tag);
	while (!atomic_load(&a->stop)) {
		if (t4t_tag_apdu(&a->tag, rx, (size_t)n, tx, sizeof(tx), &tlen) != 0)
			break; /* cannot happen: tx holds any answer */
		if (nfc_target_send_bytes(a->pnd, tx, tlen, NFC_LINK_XFER_TIMEOUT_MS) < 0) {
			log_debug("nfc link: reader left (%s)", nfc_strerror(a->pnd));
			break;
		}
		int64_t idle_until = ts_mono_ms() + NFC_LINK_IDLE_MS;
		do
			n = nfc_target_receive_bytes(a->pnd, rx, NFC_LINK_RX_MAX, NFC_LINK_POLL_MS);
		while (n == NFC_ETIMEOUT && !atomic_load(&a->stop) && ts_mono_ms() < idle_until);
		if (n < 0) {
			log_debug("nfc link: reader left (%s)", nfc_strerror(a->pnd));
			break;
		}
	}
	OPENSSL_cleanse(tx, sizeof(tx));
}

static void *
adv_thread(void *arg)
{
	nfc_adv *a = arg;
	uint8_t rx[NFC_LINK_RX_MAX];
	nfc_target nt;
	while (!atomic_load(&a->stop)) {
		/* nfc_target_init rewrites nt, so build it afresh each time. */
		emulated_target(a, &nt);
		int n = nfc_target_init(a->pnd, &nt, rx, sizeof(rx), NFC_LINK_POLL_MS);
		if (n == NFC_ETIMEOUT)
			continue;
		if (n < 0) {
			log_debug("nfc link: waiting for a reader: %s", nfc_strerror(a->pnd));
			sleep_ms(NFC_LINK_POLL_MS); /* no busy loop on a failing device */
			continue;
		}
		log_debug("nfc link: reader in the field");
		serve_reader(a, rx, n);
	}
	return NULL;
}

/* Can this device emulate an ISO 14443-A target at all? */
static int
can_emulate_14443a(nfc_device *pnd)
{
	const nfc_modulation_type *mt = NULL;
	if (nfc_device_get_supported_modulation(pnd, N_TARGET, &mt) < 0 || mt == NULL)
		return 0;
	for (size_t i = 0; i < 32 && mt[i] != 0; i++) {
		if (mt[i] == NMT_ISO14443A)
			return 1;
	}
	return 0;
}

int
nfc_link_advertise(const char *arg, const uint8_t *msg, size_t len, void **handle)
{
	nfc_adv *a = NULL;
	int rc;

	if (arg == NULL || msg == NULL || len == 0 || handle == NULL)
		return TS_EINVAL;
	if (len > NDEF_MAX_MESSAGE)
		return TS_ELIMIT;
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return TS_ENOMEM;
	atomic_init(&a->stop, 0);
	if ((rc = t4t_tag_init(&a->tag, msg, len, 0)) != 0)
		goto fail;
	if (RAND_bytes(a->uid, sizeof(a->uid)) != 1) {
		rc = TS_ECRYPTO;
		goto fail;
	}
	if ((rc = open_device(arg, &a->ctx, &a->pnd)) != 0)
		goto fail;
	if (!can_emulate_14443a(a->pnd)) {
		log_error("nfc link: %s cannot emulate an ISO 14443-A tag (a PN532 can), see "
			  "docs/nfc.md",
		    nfc_device_get_name(a->pnd));
		rc = TS_EUNSUPP;
		goto fail;
	}
	if (nfc_device_set_property_bool(a->pnd, NP_AUTO_ISO14443_4, true) < 0) {
		log_error("nfc link: configuring %s failed: %s", nfc_device_get_name(a->pnd),
		    nfc_strerror(a->pnd));
		rc = TS_EIO;
		goto fail;
	}
	if (pthread_create(&a->thread, NULL, adv_thread, a) != 0) {
		rc = TS_ENOMEM;
		goto fail;
	}
	log_info("nfc link: %s emulates an NFC Forum Type 4 Tag with a %zu-byte NDEF message",
	    nfc_device_get_name(a->pnd), len);
	*handle = a;
	return 0;

fail:
	close_device(a->ctx, a->pnd);
	t4t_tag_clear(&a->tag);
	free(a);
	return rc;
}

void
nfc_link_stop(void *handle)
{
	nfc_adv *a = handle;
	if (a == NULL)
		return;
	atomic_store(&a->stop, 1);
	pthread_join(a->thread, NULL);
	(void)nfc_idle(a->pnd);
	close_device(a->ctx, a->pnd);
	t4t_tag_clear(&a->tag);
	free(a);
}
