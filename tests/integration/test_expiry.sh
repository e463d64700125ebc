#!/usr/bin/env bash
# A time-limited share expires on the node's own clock: with the companion
# offline (so nothing but the node's expiry tick can end it) the node revokes
# the grant, tells the provider (cancelOrder) and queues a delete; when the
# companion comes back its SE deletes the app.
. "$(dirname "$0")/lib.sh"
ts_start_all

alice share --link "sim:$T/link.sock" --app sim-alice --duration 4 --timeout 30 >"$T/share.out" 2>&1 ||
	{ cat "$T/share.out"; fail "time-limited share installs"; }
SHARE=$(alice shares --json | jq -r '.data | .shares[0].share_id')
NA=$(alice shares --json | jq -r '.data | .shares[0].not_after')
expect "not_after set" [ "$NA" -gt 0 ]
expect "installed first" [ "$(node_state "$SHARE")" = installed ]

ts_stop "$COMP_PID"
se_apps() { "$TS_BIN/tapshare-companion" status --se "inproc:$T/se.state" --json 2>/dev/null | jq '.data | .apps | length'; }
cancel_orders() { "$TS_BIN/tapshare-sp" decisions --dir "$T/sp" --json | jq '.data | map(select(.function == "cancelOrder")) | length'; }
expect "expires on the node with the companion offline" wait_state "$SHARE" expired 20
expect "... by the node's expiry tick" grep -q "S16 share $SHARE expired (not_after $NA)" "$T/node.log"
expect "provider told (cancelOrder) with the companion offline" \
	bash -c "for i in \$(seq 50); do [ \"\$('$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq '.data | map(select(.function == \"cancelOrder\")) | length')\" = 1 ] && exit 0; sleep 0.2; done; exit 1"
expect "the SE still holds the app while the companion is offline" [ "$(se_apps)" = 1 ]

ts_start_companion
expect "SE deletes the expired app once the companion is back" \
	bash -c "for i in \$(seq 50); do [ \"\$('$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq '.data | .apps | length')\" = 0 ] && exit 0; sleep 0.2; done; exit 1"
expect "still expired, provider told once" bash -c "[ '$(node_state "$SHARE")' = expired ] && [ \"\$('$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq '.data | map(select(.function == \"cancelOrder\")) | length')\" = 1 ]"
ts_done
