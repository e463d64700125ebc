#!/usr/bin/env bash
# The outbox's bookkeeping is committed without its own fsync (store_sqlite.c
# relaxed(): a worker's claim and a row marked done are made durable by the
# next synchronous commit). A power loss can therefore take back exactly
# those writes: rows claimed and done again, their attempt counts one lower.
# This test puts the store into that state after a share and its cancel
# (confirmOrder and cancelOrder both answered and applied), restarts the
# node and requires that nothing happens twice: the provider is called again
# with the same functionCallIdentifiers and answers from its record (one
# decision each), the share stays revoked, the SE holds nothing, and every
# row ends done again.
. "$(dirname "$0")/lib.sh"
ts_start_all

alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 >"$T/share.out" 2>&1 ||
	{ cat "$T/share.out"; fail "share completes"; }
SH=$(alice shares --json | jq -r '.data | .shares[0].share_id')
ASSOC=$(alice shares --json | jq -r '.data | .shares[0].associated_app_id')
expect "installed" [ "$(node_state "$SH")" = installed ]
alice cancel "$SH" --timeout 60 >"$T/cancel.out" 2>&1 || { cat "$T/cancel.out"; fail "cancel accepted"; }
i=0
while [ "$(node_state "$SH")" != revoked ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
expect "revoked" [ "$(node_state "$SH")" = revoked ]
rows() { sqlite3 "$T/node/node.db" "SELECT count(*) FROM outbox WHERE share_id='$SH' AND done=$1"; }
i=0
while [ "$(rows 0)" != 0 ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
expect "both provider calls done" [ "$(rows 1)" = 2 ]

decisions() {
	"$TS_BIN/tapshare-sp" decisions --dir "$T/sp" --json |
		jq --arg f "$1" --arg s "$SH" '.data | map(select(.function == $f and .share_id == $s)) | length'
}
se_apps() {
	"$TS_BIN/tapshare-companion" status --se "inproc:$T/se.state" --json 2>/dev/null | jdata |
		jq --arg a "$ASSOC" '.apps | map(select(.app_id == $a)) | length'
}
expect "one confirmOrder, one cancelOrder decided" [ "$(decisions confirmOrder)/$(decisions cancelOrder)" = 1/1 ]


# The power-loss state: the claims and the done marks of both rows never
# reached the disk.
ts_stop "$NODE_PID"
sqlite3 "$T/node/node.db" "UPDATE outbox SET done=0, lease_until=0, attempts=MAX(attempts-1,0), next_at=0
	WHERE share_id='$SH'"
expect "both rows pending again" [ "$(rows 0)" = 2 ]
ts_start_node
i=0
while [ "$(rows 0)" != 0 ] && [ $i -lt 150 ]; do sleep 0.2; i=$((i + 1)); done
expect "both rows done again after the restart" [ "$(rows 1)" = 2 ]
expect "the provider was asked again (same identifiers)" \
	grep -q "repeated call, recorded answer returned" "$T/sp.log"
expect "still one confirmOrder and one cancelOrder decided" \
	[ "$(decisions confirmOrder)/$(decisions cancelOrder)" = 1/1 ]
expect "the share stays revoked" [ "$(node_state "$SH")" = revoked ]
expect "the SE holds nothing of it" [ "$(se_apps)" = 0 ]
expect "the node logged no error" bash -c "! grep -q ' ERROR ' '$T/node.log'"

ts_done
