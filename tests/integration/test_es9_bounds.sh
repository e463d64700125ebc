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
for i in $(seq 41 60); do initiate >/dev/null; done
r=$(initiate)
# SGP.22 / SGP.02 §5.1.6.4: Function provider (1.2) - Busy (4.4)
expect "the 61st session from one address within a minute is refused" \
	[ "$(jq -r '.header.functionExecutionStatus.status + " " + .header.functionExecutionStatus.statusCodeData.subjectCode + " " + .header.functionExecutionStatus.statusCodeData.reasonCode' <<<"$r")" = "Failed 1.2 4.4" ]
rows=$(sqlite3 "$T/node/node.db" "SELECT count(*) FROM es9_tx WHERE share_id NOT LIKE 'stream:%'")
expect "the node holds at most 4 download session rows in all ($rows)" [ "$rows" -le 4 ]
rows=$(sqlite3 "$T/node/node.db" "SELECT count(*) FROM es9_tx WHERE share_id LIKE 'stream:%'")
expect "and at most 4 stream-authentication rows per peer ($rows)" [ "$rows" -le 4 ]
ts_done
