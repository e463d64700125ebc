#!/usr/bin/env bash
# Companion offline: the share waits (authorised) and completes when the
# companion comes back; a cancel while the companion is offline stays
# cancel_pending and the SE deletes the app once the companion is back.
. "$(dirname "$0")/lib.sh"
ts_start_all

# The primary reads the EID while the companion is near, then the companion goes away.
ts_stop "$COMP_PID"
SHARE=$(alice share --eid "$EID" --app sim-alice --no-wait --json | jq -r '.share.share_id // .share_id')
expect "share accepted while the companion is offline" [ -n "$SHARE" ] 
expect "share authorised and waiting" wait_state "$SHARE" authorised 20
sleep 1
expect "still authorised (nothing delivered)" [ "$(node_state "$SHARE")" = authorised ]

ts_start_companion
expect "companion back online -> installed" wait_state "$SHARE" installed 30

# cancel while offline
ts_stop "$COMP_PID"
alice cancel "$SHARE" --no-wait >/dev/null 2>&1
expect "cancel while offline -> cancel_pending" wait_state "$SHARE" cancel_pending 10
expect "SE still holds the app while offline" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.apps | length == 1' >/dev/null"
ts_start_companion
expect "companion back -> deleted and revoked" wait_state "$SHARE" revoked 30
expect "SE holds nothing" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.apps | length == 0' >/dev/null"
ts_done
