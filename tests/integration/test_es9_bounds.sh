#!/usr/bin/env bash
# ES9+ sessions are bounded: whoever holds a leaked matchingId cannot grow the
# node's database (a new session replaces the share's oldest, at most 4 per
# share), and one peer address opens at most 60 sessions a minute.
. "$(dirname "$0")/lib.sh"
ts_start_all
# a share to EID2 (no companion runs for it): it stays authorised, downloadable
out=$(alice share --eid "$EID2" --app sim-alice --no-wait --json | jdata)
SID=$(jq -r .share.share_id <<<"$out")
expect "share for EID2 created" [ ${#SID} -gt 8 ]
wait_state "$SID" authorised 20 || true
expect "share is authorised (downloadable)" [ "$(node_state "$SID")" = authorised ]
MID=$(sqlite3 "$T/node/node.db" "SELECT matching_id FROM shares WHERE id='$SID'")
expect "the leaked matchingId" [ -n "$MID" ]
CHAL=$(head -c 16 /dev/urandom | base64)
# EUICCInfo1 (SGP.22 §5.7.8) written out: BF20 { 82 svn 2.2.2, A9 { 04 CI SKI },
# AA { 04 CI SKI } } with the CI's subjectKeyIdentifier as openssl reads it.
SKI=$(openssl x509 -in "$T/pki/ci.crt" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' :')
L=$(printf %02x $((${#SKI} / 2)))
L2=$(printf %02x $((${#SKI} / 2 + 2)))
INFO1=$(printf "BF20%02x8203020202A9${L2}04${L}${SKI}AA${L2}04${L}${SKI}" $((5 + 2 * (${#SKI} / 2 + 4))) \
	| xxd -r -p | base64 -w0)
ADDR=${NODE_URL#https://}
initiate() {
	curl -sS --max-time 10 --cacert "$T/pki/node-ca.crt" -X POST \
		"$NODE_URL/gsma/rsp2/es9plus/initiateAuthentication" -H 'Content-Type: application/json' \
		-d "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"matchingId\":\"$MID\",\"smdpAddress\":\"$ADDR\"}"
}
okc=0
for i in $(seq 1 40); do
	[ "$(initiate | jq -r .header.functionExecutionStatus.status)" = Executed-Success ] && okc=$((okc + 1))
done
expect "40 sessions opened with the leaked matchingId ($okc)" [ $okc -eq 40 ]
rows=$(sqlite3 "$T/node/node.db" "SELECT count(*) FROM es9_tx WHERE share_id='$SID'")
expect "the share keeps at most 4 session rows ($rows)" [ "$rows" -le 4 ]
# SGP.22 §5.6 over HTTP: the status codes of the specification's tables
es9() {
	curl -sS --max-time 10 --cacert "$T/pki/node-ca.crt" -w '\n%{http_code}' -X POST \
		"$NODE_URL/gsma/rsp2/es9plus/$1" -H 'Content-Type: application/json' -H 'X-Admin-Protocol: gsma/rsp/v2.2.0' -d "$2"
}
sc() { head -n1 <<<"$1" | jq -r '.header.functionExecutionStatus | .status + " " + .statusCodeData.subjectCode + " " + .statusCodeData.reasonCode'; }
r=$(es9 initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"smdpAddress\":\"$ADDR\"}")
expect "no euiccInfo1: Function - Mandatory element missing (1.6 / 2.2)" [ "$(sc "$r")" = "Failed 1.6 2.2" ]
r=$(es9 initiateAuthentication "{\"euiccChallenge\":\"$CHAL\",\"euiccInfo1\":\"$INFO1\",\"smdpAddress\":\"smdp.example.org\"}")
expect "another smdpAddress: SM-DP+ Address - Refused (8.8.1 / 3.8)" [ "$(sc "$r")" = "Failed 8.8.1 3.8" ]
expect "the answer names the protocol version" grep -qi '^x-admin-protocol: gsma/rsp/v2' <(curl -sS -D - -o /dev/null \
	--cacert "$T/pki/node-ca.crt" -X POST "$NODE_URL/gsma/rsp2/es9plus/initiateAuthentication" \
	-H 'Content-Type: application/json' -d '{}')
r=$(es9 authenticateClient '{"authenticateServerResponse":"vzgA"}')
expect "no transactionId: 1.6 / 2.2" [ "$(sc "$r")" = "Failed 1.6 2.2" ]
r=$(es9 authenticateClient '{"transactionId":"00112233445566778899AABBCCDDEEFF","authenticateServerResponse":"vzgA"}')
expect "unknown transactionId (checked first): 8.10.1 / 3.9" [ "$(sc "$r")" = "Failed 8.10.1 3.9" ]
r=$(es9 authenticateClient '{"transactionId":"00112233445566778899AABBCCDDEEFF","authenticateServerResponse":"v"}')
expect "authenticateServerResponse not base64: Function - Invalid (1.6 / 2.1)" [ "$(sc "$r")" = "Failed 1.6 2.1" ]
r=$(es9 getBoundProfilePackage '{"transactionId":"00112233445566778899AABBCCDDEEFF","prepareDownloadResponse":"vyEA"}')
expect "unknown transactionId: TransactionId - Unknown (8.10.1 / 3.9)" [ "$(sc "$r")" = "Failed 8.10.1 3.9" ]
r=$(es9 cancelSession '{"transactionId":"00112233445566778899AABBCCDDEEFF","cancelSessionResponse":"v0EDgQEF"}')
expect "cancelSession of an unknown session: 8.10.1 / 3.9" [ "$(sc "$r")" = "Failed 8.10.1 3.9" ]
r=$(es9 handleNotification '{"pendingNotification":"vy8A"}')
expect "an unverifiable notification is answered 204 (SGP.22 §6.3) and discarded" [ "$(tail -n1 <<<"$r")" = 204 ]
wait_log "$T/node.log" "not an SGP.22 PendingNotification" 5 || true
expect "and the node says why it discarded it" grep -q "not an SGP.22 PendingNotification" "$T/node.log"
# three of the requests above were initiateAuthentication calls from this address
for i in $(seq 44 60); do initiate >/dev/null; done
r=$(initiate)
# SGP.22 / SGP.02 §5.1.6.4: Function provider (1.2) - Busy (4.4)
expect "the 61st session from one address within a minute is refused" \
	[ "$(jq -r '.header.functionExecutionStatus.status + " " + .header.functionExecutionStatus.statusCodeData.subjectCode + " " + .header.functionExecutionStatus.statusCodeData.reasonCode' <<<"$r")" = "Failed 1.2 4.4" ]
rows=$(sqlite3 "$T/node/node.db" "SELECT count(*) FROM es9_tx WHERE share_id NOT LIKE 'stream:%'")
expect "the node holds at most 4 download session rows in all ($rows)" [ "$rows" -le 4 ]
rows=$(sqlite3 "$T/node/node.db" "SELECT count(*) FROM es9_tx WHERE share_id LIKE 'stream:%'")
expect "and at most 4 stream-authentication rows per peer ($rows)" [ "$rows" -le 4 ]
ts_done
