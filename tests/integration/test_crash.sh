#!/usr/bin/env bash
# The node is killed with SIGKILL right after S12 (share recorded, first
# confirmation not yet sent) and, in a second share, right after S13 (grant
# recorded, outbox row not yet closed). After a restart each flow completes
# exactly once: one share, one provider decision, one app in the SE.
. "$(dirname "$0")/lib.sh"
ts_start_all

A="$T/alice"
ACURL=(curl -sS --max-time 20 --cacert "$T/pki/node-ca.crt" --cert "$A/device.crt" --key "$A/device.key")
token() { "${ACURL[@]}" -X POST "$NODE_URL/v1/session" -d "{\"passphrase\":\"$PASS\"}" | jq -r .token; }
restart_node() { # restart_node [CRASH_STEP]
	ts_stop "$NODE_PID"
	if [ -n "${1:-}" ]; then
		TAPSHARE_NODE_CRASH_AFTER=$1 ts_start_node_env
	else
		ts_start_node_same_port
	fi
}
ts_start_node_same_port() {
	# same port as before, so the companion reconnects to it
	sed -i "s/^listen = .*/listen = 127.0.0.1:$NODE_PORT/" "$T/node/node.ini"
	ts_start_node
}
ts_start_node_env() { ts_start_node_same_port; }

# --- crash right after S12 ---
TOKEN=$(token)
restart_node share_request
r=$("${ACURL[@]}" -X POST "$NODE_URL/v1/shares" -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: crash-12' \
	-d "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}" 2>&1 || true)
wait "$NODE_PID" 2>/dev/null || true
expect "node died after S12 (no answer reached the primary)" bash -c "! grep -q share_id <<<'$r'"
expect "S12 was logged before the crash" grep -q " S12 " "$T/node.log"
restart_node
# the primary retries with the same Idempotency-Key
r=$("${ACURL[@]}" -X POST "$NODE_URL/v1/shares" -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: crash-12' \
	-d "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}")
S1=$(jq -r .share_id <<<"$r")
expect "retry answered from the record" [ ${#S1} -eq 32 ]
expect "flow completes after the S12 crash" wait_state "$S1" installed 40
expect "exactly one share" [ "$("$TS_BIN/tapshare-node" shares --dir "$T/node" --json | jq length)" = 1 ]

# --- crash right after S13 ---
restart_node share_authorise
r=$("${ACURL[@]}" -X POST "$NODE_URL/v1/shares" -H "Authorization: Bearer $TOKEN" -H 'Idempotency-Key: crash-13' \
	-d "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}")
S2=$(jq -r .share_id <<<"$r")
expect "second share accepted" [ ${#S2} -eq 32 ]
for i in $(seq 100); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
expect "node died after S13" bash -c "! kill -0 $NODE_PID 2>/dev/null"
wait "$NODE_PID" 2>/dev/null || true
restart_node
expect "flow completes after the S13 crash" wait_state "$S2" installed 40
expect "two shares in all" [ "$("$TS_BIN/tapshare-node" shares --dir "$T/node" --json | jq length)" = 2 ]
expect "provider decided exactly once per share" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e 'map(select(.function == \"confirmOrder\")) | length == 2' >/dev/null"
expect "the SE holds exactly two apps" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.apps | length == 2' >/dev/null"
ts_done
