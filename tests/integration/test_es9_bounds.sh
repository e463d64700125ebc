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
initiate() {
	curl -sS --max-time 10 --cacert "$T/pki/node-ca.crt" -X POST \
		"$NODE_URL/gsma/rsp2/es9plus/initiateAuthentication" -H 'Content-Type: application/json' \
		-d "{\"euiccChallenge\":\"$CHAL\",\"matchingId\":\"$MID\",\"smdpAddress\":\"127.0.0.1\"}"
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
expect "the 61st session from one address within a minute is refused" \
	[ "$(jq -r '.header.functionExecutionStatus.status + " " + .header.functionExecutionStatus.statusCodeData.reasonCode' <<<"$r")" = "Failed 6.4" ]
rows=$(sqlite3 "$T/node/node.db" "SELECT count(*) FROM es9_tx WHERE share_id NOT LIKE 'stream:%'")
expect "the node holds at most 4 download session rows in all ($rows)" [ "$rows" -le 4 ]
rows=$(sqlite3 "$T/node/node.db" "SELECT count(*) FROM es9_tx WHERE share_id LIKE 'stream:%'")
expect "and at most 4 stream-authentication rows per peer ($rows)" [ "$rows" -le 4 ]
ts_done
