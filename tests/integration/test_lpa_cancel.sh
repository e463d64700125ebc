#!/usr/bin/env bash
# ES9+ cancelSession from a standard LPA (issue 7): tests/helpers/test_lpa
# (no tapshare-companion runs) gives up on a download as SGP.22 §3.1.3 /
# §5.6.5 have an LPA do it — ES10b CancelSession on the eUICC (tapshare-se
# ends its session and signs its CancelSessionResponse), then ES9+
# cancelSession with that signed answer — and the node ends the session,
# and the share where the state machine says so (docs/protocol.md,
# "CancelSession"):
#   - after authenticateClient, postponed: the session ends — the same
#     cancelSession again is an unknown transaction (8.10.1 / 3.9) — the
#     share stays authorised, the provider is told (ES2+
#     handleDownloadProgressInfo, no cancelOrder: SGP.22 §5.6.5 step 1) and a
#     later download installs it; timeout (after getBoundProfilePackage: the
#     share stays delivered) and undefinedReason: the same notice;
#   - after authenticateClient, endUserRejection (the user declined at the
#     preview): the share fails (tapshare's policy by reason; §5.6.5 itself
#     terminates the pending download and notifies the Operator whatever the
#     reason), the provider is told (cancelOrder), the primary gets share.failed;
#   - after getBoundProfilePackage with loadBppExecutionError (the package
#     could not be loaded): the share fails, the provider is told
#     (cancelOrder), the primary gets share.failed, nothing is on the eUICC.
# The eUICC is tapshare-se in process (inproc:): no pcscd, no fixed ports.
. "$(dirname "$0")/lib.sh"
ts_start_all --no-companion
BARE=${NODE_URL#https://}
LPA=("$TS_BIN/test_lpa" --ca "$T/pki/node-ca.crt" --se "inproc:$T/se.state")

# new_share: a share to EID (no companion answers its push), authorised; prints
# "SHARE_ID ACTIVATION_CODE" (the code as `tapshare share` reports it:
# LPA:1$<address>$<matching id>)
new_share() {
	local sid mid
	sid=$(alice share --eid "$EID" --app sim-alice --no-wait --json 2>>"$T/cli.log" | jdata | jq -r .share.share_id)
	wait_state "$sid" authorised 20 || return 1
	mid=$(sqlite3 "$T/node/node.db" "SELECT matching_id FROM shares WHERE id='$sid'")
	echo "$sid LPA:1\$$BARE\$$mid"
}
# sp_calls FUNCTION SHARE_ID: how many FUNCTION calls the provider recorded for the share
sp_calls() {
	"$TS_BIN/tapshare-sp" decisions --dir "$T/sp" --json |
		jq --arg f "$1" --arg s "$2" '.data | map(select(.function == $f and .share_id == $s)) | length'
}
cancel_orders() { sp_calls cancelOrder "$1"; }
progress_infos() { sp_calls handleDownloadProgressInfo "$1"; }
apps_on_se() { "$TS_BIN/tapshare-se" status --state "$T/se.state" --json 2>/dev/null | jdata | jq '.apps | length'; }

# ---- 1. after authenticateClient: postponed -----------------------------------
read -r SA ACA <<<"$(new_share)"
expect "share A authorised" [ "$(node_state "$SA")" = authorised ]
out=$("${LPA[@]}" --cancel-after authenticateClient --cancel-reason postponed --save-cancel "$T/cancel_a.der" \
	download "$ACA" 2>>"$T/lpa.log") || { echo "$out"; fail "the LPA cancels share A's session after authenticateClient"; }
echo "$out"
TID=$(sed -n 's/^cancelled transaction \([0-9a-f]*\) postponed$/\1/p' <<<"$out")
expect "the LPA cancelled its session ($TID), postponed" [ ${#TID} = 32 ]
expect "the node verified the eUICC-signed cancellation" \
	grep -q "cancelled download session $TID: postponed" "$T/node.log"
# The same signed cancellation again: the node's session is gone.
body=$(jq -nc --arg t "$TID" --arg c "$(base64 -w0 "$T/cancel_a.der")" '{transactionId: $t, cancelSessionResponse: $c}')
r=$(curl -sS --max-time 10 --cacert "$T/pki/node-ca.crt" -X POST "$NODE_URL/gsma/rsp2/es9plus/cancelSession" \
	-H 'Content-Type: application/json' -H 'X-Admin-Protocol: gsma/rsp/v2.2.0' -d "$body")
expect "... the same cancelSession again: TransactionId - Unknown (8.10.1 / 3.9)" \
	jq -e '.header.functionExecutionStatus | .status == "Failed" and .statusCodeData.subjectCode == "8.10.1" and .statusCodeData.reasonCode == "3.9"' <<<"$r"
expect "share A stays authorised (a session was cancelled, not the share)" [ "$(node_state "$SA")" = authorised ]
# SGP.22 §5.6.5 step 1: the Operator is told of the cancelled download
# (ES2+ HandleDownloadProgressInfo), and the order stays (no cancelOrder)
for i in $(seq 50); do [ "$(progress_infos "$SA")" = 1 ] && break; sleep 0.2; done
expect "... the provider was told of the cancelled download (one handleDownloadProgressInfo)" \
	[ "$(progress_infos "$SA")" = 1 ]
expect "... with the reason and notification point 3 (BPP download)" \
	[ "$("$TS_BIN/tapshare-sp" decisions --dir "$T/sp" --json | jq -r --arg s "$SA" \
		'.data[] | select(.function == "handleDownloadProgressInfo" and .share_id == $s) | .reason')" = \
		"cancelSession postponed at notification point 3" ]
expect "... and no cancelOrder (the order stays)" [ "$(cancel_orders "$SA")" = 0 ]
expect "... nothing was installed" [ "$(apps_on_se)" = 0 ]
out=$("${LPA[@]}" download "$ACA" 2>>"$T/lpa.log") || { echo "$out"; fail "share A downloads after the cancel"; }
echo "$out"
expect "a new download of share A installs it" grep -q "^installed ICCID" <<<"$out"
expect "share A installed" wait_state "$SA" installed 20

# cancel_ends_share NAME AFTER REASON: a new share NAME, whose session the LPA
# cancels after AFTER with REASON: the share fails, the provider is told once
# (cancelOrder), the primary gets share.failed, nothing more is on the eUICC.
cancel_ends_share() {
	local name=$1 after=$2 reason=$3 sid ac out i
	read -r sid ac <<<"$(new_share)"
	expect "share $name authorised" [ "$(node_state "$sid")" = authorised ]
	out=$("${LPA[@]}" --cancel-after "$after" --cancel-reason "$reason" download "$ac" 2>>"$T/lpa.log") ||
		{ echo "$out"; fail "the LPA cancels share $name's session after $after"; }
	echo "$out"
	expect "the LPA cancelled with $reason" grep -q "^cancelled transaction [0-9a-f]\{32\} $reason$" <<<"$out"
	expect "share $name failed (the download order ends)" wait_state "$sid" failed 20
	for i in $(seq 50); do [ "$(cancel_orders "$sid")" = 1 ] && break; sleep 0.2; done
	expect "... the provider was told (one cancelOrder for share $name)" [ "$(cancel_orders "$sid")" = 1 ]
	expect "... and no handleDownloadProgressInfo (the cancelOrder said it)" [ "$(progress_infos "$sid")" = 0 ]
	alice watch --share "$sid" --all --timeout 3 --json >"$T/watch_$name.json" 2>/dev/null || true
	expect "... the primary got share.failed" grep -q 'share\.failed' "$T/watch_$name.json"
	expect "... only share A's profile is on the eUICC" [ "$(apps_on_se)" = 1 ]
}

# cancel_keeps_share NAME AFTER REASON STATE: a new share NAME, whose session
# the LPA cancels after AFTER with REASON (one that keeps the share): the share
# stays STATE, the provider is told once with that reason (ES2+
# handleDownloadProgressInfo) and gets no cancelOrder.
cancel_keeps_share() {
	local name=$1 after=$2 reason=$3 state=$4 sid ac out i
	read -r sid ac <<<"$(new_share)"
	out=$("${LPA[@]}" --cancel-after "$after" --cancel-reason "$reason" download "$ac" 2>>"$T/lpa.log") ||
		{ echo "$out"; fail "the LPA cancels share $name's session after $after"; }
	expect "the LPA cancelled share $name's session with $reason" \
		grep -q "^cancelled transaction [0-9a-f]\{32\} $reason$" <<<"$out"
	for i in $(seq 50); do [ "$(progress_infos "$sid")" = 1 ] && break; sleep 0.2; done
	expect "share $name stays $state ($(node_state "$sid"))" [ "$(node_state "$sid")" = "$state" ]
	expect "... the provider was told of the cancelled download, $reason" \
		[ "$("$TS_BIN/tapshare-sp" decisions --dir "$T/sp" --json | jq -r --arg s "$sid" \
			'[.data[] | select(.function == "handleDownloadProgressInfo" and .share_id == $s) | .reason] |
			join(",")')" = "cancelSession $reason at notification point 3" ]
	expect "... and no cancelOrder" [ "$(cancel_orders "$sid")" = 0 ]
}

# ---- 1a. the other reasons that keep the share -------------------------------
cancel_keeps_share D getBoundProfilePackage timeout delivered
cancel_keeps_share E authenticateClient undefinedReason authorised

# ---- 1b. after authenticateClient: endUserRejection (declined at the preview) ---
cancel_ends_share C authenticateClient endUserRejection

# ---- 2. after getBoundProfilePackage: loadBppExecutionError -----------------
cancel_ends_share B getBoundProfilePackage loadBppExecutionError
ts_done
