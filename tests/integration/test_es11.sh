#!/usr/bin/env bash
# SM-DS (ES11, issue 7): a share waiting for an offline companion is an event
# for its EID; a standard LPA's discovery (ES11 initiateAuthentication +
# authenticateClient with a valid eUICC signature) returns it as
# {eventId = matchingId, rspServerAddress = the node}; `tapshare share`
# prints the activation code; once the share ends the event is gone.
. "$(dirname "$0")/lib.sh"
ts_start_all
ts_stop "$COMP_PID"  # the companion goes away: the share stays authorised

out=$(alice share --eid "$EID" --app sim-alice --timeout 4 --json 2>/dev/null | jdata || true)
SHARE=$(jq -r '.share.share_id' <<<"$out")
expect "share authorised and waiting" wait_state "$SHARE" authorised 20
AC=$(jq -r '.activation_code // empty' <<<"$out")
BARE=${NODE_URL#https://}
PAT="^LPA:1[\$]${BARE//./[.]}[\$][0-9a-f]{32}\$"
expect "share --json returns the activation code LPA:1\$<bare address>\$<matching id>" grep -Eq "$PAT" <<<"$AC"
MID=${AC##*\$}
txt=$(alice share --eid "$EID" --app sim-alice --timeout 4 2>&1 || true)
expect "share prints the activation code" grep -q "activation code for a standard LPA: LPA:1\\\$$BARE\\\$" <<<"$txt"
SHARE2=$(alice shares --json | jdata | jq -r --arg s "$SHARE" '.shares | map(select(.share_id != $s)) | .[0].share_id')

resp=$("$TS_BIN/test_lpa" --ca "$T/pki/node-ca.crt" --se "inproc:$T/se.state" discover "$BARE" 2>"$T/es11.log") || { cat "$T/es11.log"; echo "$resp"; }
echo "$resp"
expect "ES11 authenticateClient succeeds" jq -e '.header.functionExecutionStatus.status == "Executed-Success"' <<<"$resp"
expect "the share's event: eventId = its matchingId, rspServerAddress = the node" \
	jq -e --arg m "$MID" --arg a "$BARE" '.eventEntries | map(select(.eventId == $m and .rspServerAddress == $a)) | length == 1' <<<"$resp"
expect "two pending shares, two events" jq -e '.eventEntries | length == 2' <<<"$resp"

alice cancel "$SHARE" --no-wait >/dev/null 2>&1
expect "share revoked" wait_state "$SHARE" revoked 10
resp=$("$TS_BIN/test_lpa" --ca "$T/pki/node-ca.crt" --se "inproc:$T/se.state" discover "$BARE" 2>>"$T/es11.log")
expect "after the share ends its event is gone" \
	jq -e --arg m "$MID" '(.eventEntries | map(select(.eventId == $m)) | length == 0) and (.eventEntries | length == 1)' <<<"$resp"

# The download completes (companion back): no event left.
ts_start_companion
expect "companion back -> installed" wait_state "$SHARE2" installed 30
resp=$("$TS_BIN/test_lpa" --ca "$T/pki/node-ca.crt" --se "inproc:$T/se.state" discover "$BARE" 2>>"$T/es11.log")
expect "after the download no events" jq -e '.eventEntries | length == 0' <<<"$resp"

# Refusals: an unknown transaction; another SM-DS address.
r=$(curl -s --cacert "$T/pki/node-ca.crt" -H 'Content-Type: application/json' \
	-d '{"transactionId":"00112233445566778899AABBCCDDEEFF","authenticateServerResponse":"vzgA"}' \
	"$NODE_URL/gsma/rsp2/es11/authenticateClient")
expect "unknown transactionId refused (8.10.1/3.9)" jq -e '.header.functionExecutionStatus.status == "Failed" and .header.functionExecutionStatus.statusCodeData.subjectCode == "8.10.1"' <<<"$r"
r=$(curl -s --cacert "$T/pki/node-ca.crt" -H 'Content-Type: application/json' \
	-d '{"euiccChallenge":"AAAAAAAAAAAAAAAAAAAAAA==","smdsAddress":"other.example"}' \
	"$NODE_URL/gsma/rsp2/es11/initiateAuthentication")
expect "another smdsAddress refused (8.8.1/3.8)" jq -e '.header.functionExecutionStatus.statusCodeData.subjectCode == "8.8.1"' <<<"$r"
ts_done
