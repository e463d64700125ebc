#!/usr/bin/env bash
# Companion offline: the share waits (authorised) and completes when the
# companion comes back; a cancel while the companion is offline stays
# cancel_pending and the SE deletes the app once the companion is back.
. "$(dirname "$0")/lib.sh"
ts_start_all

# The primary reads the EID while the companion is near, then the companion goes away.
ts_stop "$COMP_PID"
SHARE=$(alice share --eid "$EID" --app sim-alice --no-wait --json | jdata | jq -r '.share.share_id')
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
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.data | .apps | length == 1' >/dev/null"
ts_start_companion
expect "companion back -> deleted and revoked" wait_state "$SHARE" revoked 30
expect "SE holds nothing" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.data | .apps | length == 0' >/dev/null"

# The node restarts again and again (each time the companion's stream was up
# in between): the companion reconnects within a couple of seconds every
# time, its backoff does not keep growing with each successful reconnect.
sed -i "s/^listen = .*/listen = 127.0.0.1:$NODE_PORT/" "$T/node/node.ini"
connects() { grep -c "companion $EID connected to its push channel" "$T/node.log" || true; }
slow=0
for i in 1 2 3 4 5; do
	c=$(connects)
	ts_stop "$NODE_PID"
	sleep 0.5
	ts_start_node
	t0=$(date +%s%N)
	until [ "$(connects)" -gt "$c" ]; do
		[ $((($(date +%s%N) - t0) / 1000000)) -gt 10000 ] && break
		sleep 0.1
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# reconnect $i after a node restart: $ms ms"
	[ "$ms" -le 3000 ] || slow=$((slow + 1))
done
expect "the companion reconnected within 3 s after each of 5 node restarts" [ "$slow" = 0 ]
ts_done
