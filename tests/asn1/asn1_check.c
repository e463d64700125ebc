/*
 * asn1_check.c — the independent check of tapshare's ES10 encodings: every
 * structure the unit tests saw (their hand-written vectors and everything the
 * SE emitted, written by tests/asn1/dump.h as <dir>/<suite>/<Type>.<n>.der)
 * is decoded with the asn1c-generated decoder of tests/asn1/TapshareES10.asn
 * (BER decoder: it must consume exactly the file), checked against the
 * module's constraints, re-encoded in DER and compared byte for byte with the
 * original. Also fails when one of the required types was never seen (so a
 * producer that stopped dumping is noticed).
 *
 * Usage: asn1_check DUMPDIR   (exit 0: all good; 1: a failure; 2: usage)
 * Built from generated C with warnings off (CMakeLists.txt), test tree only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_harness.h"

#include "DeleteProfileRequest.h"
#include "DeleteProfileResponse.h"
#include "DisableProfileRequest.h"
#include "DisableProfileResponse.h"
#include "EUICCInfo1.h"
#include "EUICCInfo2.h"
#include "EnableProfileRequest.h"
#include "EnableProfileResponse.h"
#include "EuiccConfiguredAddressesRequest.h"
#include "EuiccConfiguredAddressesResponse.h"
#include "EuiccMemoryResetRequest.h"
#include "EuiccMemoryResetResponse.h"
#include "GetEuiccDataRequest.h"
#include "GetEuiccDataResponse.h"
#include "GetEuiccInfo1Request.h"
#include "GetEuiccInfo2Request.h"
#include "GetRatRequest.h"
#include "GetRatResponse.h"
#include "ListNotificationRequest.h"
#include "ListNotificationResponse.h"
#include "NotificationMetadata.h"
#include "NotificationSentRequest.h"
#include "NotificationSentResponse.h"
#include "OtherSignedNotification.h"
#include "PendingNotification.h"
#include "ProfileInfoListRequest.h"
#include "ProfileInfoListResponse.h"
#include "ProfileInstallationResult.h"
#include "RetrieveNotificationsListRequest.h"
#include "RetrieveNotificationsListResponse.h"
#include "SetDefaultDpAddressRequest.h"
#include "SetDefaultDpAddressResponse.h"
#include "SetNicknameRequest.h"
#include "SetNicknameResponse.h"
#include "AuthenticateServerRequest.h"
#include "AuthenticateServerResponse.h"
#include "CancelSessionRequest.h"
#include "CancelSessionResponse.h"
#include "CtxParams1.h"
#include "EuiccCancelSessionSigned.h"
#include "EUICCSigned2.h"
#include "EuiccSigned1.h"
#include "GetEuiccChallengeRequest.h"
#include "GetEuiccChallengeResponse.h"
#include "PrepareDownloadRequest.h"
#include "PrepareDownloadResponse.h"
#include "ServerSigned1.h"
#include "SmdpSigned2.h"
#include "BoundProfilePackage.h"
#include "InitialiseSecureChannelRequest.h"
#include "ConfigureISDPRequest.h"
#include "StoreMetadataRequest.h"
#include "ReplaceSessionKeysRequest.h"

static struct {
	const char *name;
	asn_TYPE_descriptor_t *td;
	unsigned seen;
} types[] = {
#define T(x) { #x, &asn_DEF_##x, 0 }
	T(GetEuiccDataRequest), T(GetEuiccDataResponse),
	T(GetEuiccInfo1Request), T(EUICCInfo1), T(GetEuiccInfo2Request), T(EUICCInfo2),
	T(EuiccConfiguredAddressesRequest), T(EuiccConfiguredAddressesResponse),
	T(SetDefaultDpAddressRequest), T(SetDefaultDpAddressResponse),
	T(GetRatRequest), T(GetRatResponse),
	T(ProfileInfoListRequest), T(ProfileInfoListResponse),
	T(EnableProfileRequest), T(EnableProfileResponse),
	T(DisableProfileRequest), T(DisableProfileResponse),
	T(DeleteProfileRequest), T(DeleteProfileResponse),
	T(SetNicknameRequest), T(SetNicknameResponse),
	T(ListNotificationRequest), T(ListNotificationResponse), T(NotificationMetadata),
	T(RetrieveNotificationsListRequest), T(RetrieveNotificationsListResponse),
	T(PendingNotification), T(OtherSignedNotification), T(ProfileInstallationResult),
	T(NotificationSentRequest), T(NotificationSentResponse),
	T(EuiccMemoryResetRequest), T(EuiccMemoryResetResponse),
	T(GetEuiccChallengeRequest), T(GetEuiccChallengeResponse), T(ServerSigned1), T(CtxParams1),
	T(AuthenticateServerRequest), T(EuiccSigned1), T(AuthenticateServerResponse),
	T(SmdpSigned2), T(PrepareDownloadRequest), T(EUICCSigned2), T(PrepareDownloadResponse),
	T(CancelSessionRequest), T(EuiccCancelSessionSigned), T(CancelSessionResponse),
	T(BoundProfilePackage), T(InitialiseSecureChannelRequest), T(ConfigureISDPRequest),
	T(StoreMetadataRequest), T(ReplaceSessionKeysRequest),
#undef T
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* 0 when the file decodes as its type and re-encodes to the same bytes. */
static int
check_file(const char *path, const char *fname, void *arg)
{
	(void)arg;
	size_t i;
	for (i = 0; i < NTYPES; i++) {
		size_t l = strlen(types[i].name);
		if (strncmp(fname, types[i].name, l) == 0 && fname[l] == '.')
			break;
	}
	if (i == NTYPES) {
		fprintf(stderr, "%s: no ASN.1 type of that name\n", path);
		return -1;
	}
	unsigned char *buf;
	size_t len;
	if (read_dump(path, &buf, &len) != 0)
		return -1;
	asn_TYPE_descriptor_t *td = types[i].td;
	void *v = NULL;
	int rc = -1;
	obuf o = { 0 };
	asn_dec_rval_t dr = ber_decode(NULL, td, &v, buf, len);
	if (dr.code != RC_OK || dr.consumed != len) {
		fprintf(stderr, "%s: does not decode as %s (code %d, consumed %zu of %zu)\n", path,
		    types[i].name, (int)dr.code, dr.consumed, len);
		goto done;
	}
	char err[256];
	size_t errlen = sizeof(err);
	if (asn_check_constraints(td, v, err, &errlen) != 0) {
		fprintf(stderr, "%s: constraint violated: %s\n", path, err);
		goto done;
	}
	asn_enc_rval_t er = der_encode(td, v, collect, &o);
	if (er.encoded < 0) {
		fprintf(stderr, "%s: cannot re-encode as %s\n", path, types[i].name);
		goto done;
	}
	if (o.n != len || memcmp(o.b, buf, len) != 0) {
		fprintf(stderr, "%s: DER re-encoding differs (%zu bytes vs %zu)\n", path, o.n, len);
		goto done;
	}
	types[i].seen++;
	rc = 0;
done:
	ASN_STRUCT_FREE(*td, v);
	free(o.b);
	free(buf);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: asn1_check DUMPDIR\n");
		return 2;
	}
	unsigned files = 0;
	int bad = for_each_dump(argv[1], check_file, NULL, &files);
	if (bad < 0) {
		fprintf(stderr, "asn1_check: cannot open %s\n", argv[1]);
		return 1;
	}
	for (size_t i = 0; i < NTYPES; i++) {
		if (types[i].seen == 0) {
			fprintf(stderr, "asn1_check: no %s was checked\n", types[i].name);
			bad++;
		}
	}
	printf("asn1_check: %u structures, %d failures\n", files, bad);
	for (size_t i = 0; i < NTYPES; i++)
		printf("  %-36s %u\n", types[i].name, types[i].seen);
	return bad == 0 && files > 0 ? 0 : 1;
}
