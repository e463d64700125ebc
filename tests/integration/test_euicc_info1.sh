#!/usr/bin/env bash
# euiccInfo1 over HTTP (issue 7): ES9+ and ES11 initiateAuthentication check
# the eUICC's EUICCInfo1 (BF20) before they open a session, and answer each
# refusal with the subject / reason pair of SGP.22's tables.
#
# The oracle is SGP.22 v2.2 §5.6.1 (ES9+.InitiateAuthentication) and §5.9.1
# (ES11.InitiateAuthentication), "specific status codes" (docs/protocol.md,
# "euiccInfo1: the specification's text"):
#   8.8.2 / 3.1  None of the proposed Public Key Identifiers is supported by the SM-DP+
#   8.8.3 / 3.1  The Specification Version Number indicated by the eUICC is not supported by the SM-DP+
#   8.8.4 / 3.7  The SM-DP+ has no CERT.DPauth.ECDSA signed by one of the GSMA CI Public Key
#                supported by the eUICC
#   8.9.2 / 3.1, 8.9.3 / 3.1, 8.9.4 / 3.7  the same three for the SM-DS (CERT.DS.ECDSA)
# The eUICC proposes in euiccCiPKIdListForSigning the CIs its own certificate
# chains to (the server must support one of them: 8.8.2), and lists in
# euiccCiPKIdListForVerification the CIs it can verify the server's
# certificates with (the server needs a CERT.DPauth under one of them: 8.8.4).
# Written out here, not read from src/node/es9_status.c.
. "$(dirname "$0")/lib.sh"
ts_pki
ts_start_sp
ts_init_node
ts_start_node
ADDR=${NODE_URL#https://}

# tlv TAG HEX: a DER TLV (short-form length, < 128 bytes)
tlv() { printf '%s%02X%s' "$1" $((${#2} / 2)) "$2"; }
# info1 SVN "VERIFY SKIs" "SIGN SKIs": EUICCInfo1 (SGP.22 §5.7.8) in base64:
# BF20 { 82 svn, A9 { 04 ski ... }, AA { 04 ski ... } }
info1() {
	local v="" s="" k
	for k in $2; do v+=$(tlv 04 "$k"); done
	for k in $3; do s+=$(tlv 04 "$k"); done
	tlv BF20 "$(tlv 82 "$1")$(tlv A9 "$v")$(tlv AA "$s")" | xxd -r -p | base64 -w0
}
CI=$(openssl x509 -in "$T/pki/ci.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
# a CI this node does not know: the EUM's key identifier (a key, but no CI of ours)
OTHER=$(openssl x509 -in "$T/pki/eum.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
expect "the CI's and another key identifier (20 bytes each)" [ ${#CI} = 40 -a ${#OTHER} = 40 -a "$CI" != "$OTHER" ]
CHAL=$(head -c 16 /dev/urandom | base64)

# post ES PATH_FN BODY -> "status subject reason"
post() {
	curl -sS --max-time 10 --cacert "$T/pki/node-ca.crt" -X POST "$NODE_URL/gsma/rsp2/$1" \
		-H 'Content-Type: application/json' -H 'X-Admin-Protocol: gsma/rsp/v2.2.0' -d "$2" |
		jq -r '.header.functionExecutionStatus | .status + " " + (.statusCodeData.subjectCode // "") + " " + (.statusCodeData.reasonCode // "")'
}
es9() { post es9plus/initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$1\",\"smdpAddress\":\"$ADDR\"}"; }
es11() { post es11/initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$1\",\"smdsAddress\":\"$ADDR\"}"; }
sessions() { sqlite3 "$T/node/node.db" "SELECT count(*) FROM es9_tx"; }

GOOD=$(info1 020202 "$CI" "$CI")
expect "ES9+: svn 2.2.2, our CI in both lists: a session opens" [ "$(es9 "$GOOD")" = "Executed-Success  " ]
expect "ES11: the same" [ "$(es11 "$GOOD")" = "Executed-Success  " ]
both=$(info1 020200 "$OTHER $CI" "$OTHER $CI")
expect "ES9+: our CI second in each list is found" [ "$(es9 "$both")" = "Executed-Success  " ]
expect "ES11: the same" [ "$(es11 "$both")" = "Executed-Success  " ]
before=$(sessions)

# Specification Version Number: this server speaks SGP.22 v2
old=$(info1 010200 "$CI" "$CI")
expect "ES9+: svn 1.2.0 -> Specification Version Number - Unsupported (8.8.3 / 3.1)" [ "$(es9 "$old")" = "Failed 8.8.3 3.1" ]
expect "ES11: svn 1.2.0 -> 8.9.3 / 3.1" [ "$(es11 "$old")" = "Failed 8.9.3 3.1" ]

# euiccCiPKIdListForVerification without our CI: no CERT.DPauth the eUICC can verify
nover=$(info1 020202 "$OTHER" "$CI")
expect "ES9+: our CI not in ForVerification -> Certificate - Unavailable (8.8.4 / 3.7)" [ "$(es9 "$nover")" = "Failed 8.8.4 3.7" ]
expect "ES11: the same -> 8.9.4 / 3.7" [ "$(es11 "$nover")" = "Failed 8.9.4 3.7" ]
empty=$(info1 020202 "" "$CI")
expect "ES9+: an empty ForVerification -> 8.8.4 / 3.7" [ "$(es9 "$empty")" = "Failed 8.8.4 3.7" ]
expect "ES11: the same -> 8.9.4 / 3.7" [ "$(es11 "$empty")" = "Failed 8.9.4 3.7" ]

# euiccCiPKIdListForSigning without our CI: the eUICC's certificate would
# chain to a CI this server does not support
nosign=$(info1 020202 "$CI" "$OTHER")
expect "ES9+: our CI not in ForSigning -> Security configuration - Unsupported (8.8.2 / 3.1)" [ "$(es9 "$nosign")" = "Failed 8.8.2 3.1" ]
expect "ES11: the same -> 8.9.2 / 3.1" [ "$(es11 "$nosign")" = "Failed 8.9.2 3.1" ]
empty=$(info1 020202 "$CI" "")
expect "ES9+: an empty ForSigning -> 8.8.2 / 3.1" [ "$(es9 "$empty")" = "Failed 8.8.2 3.1" ]
expect "ES11: the same -> 8.9.2 / 3.1" [ "$(es11 "$empty")" = "Failed 8.9.2 3.1" ]

# Not an EUICCInfo1 at all (a BF22 EUICCInfo2 tag): Function - Invalid
bad=$(printf 'BF22058203020202' | xxd -r -p | base64 -w0)
expect "ES9+: euiccInfo1 not a BF20 -> Function - Invalid (1.6 / 2.1)" [ "$(es9 "$bad")" = "Failed 1.6 2.1" ]
expect "ES11: the same" [ "$(es11 "$bad")" = "Failed 1.6 2.1" ]
expect "no refused initiateAuthentication opened a session ($before -> $(sessions))" [ "$(sessions)" = "$before" ]
ts_done
