#!/usr/bin/env bash
# Several stateless nodes on one PostgreSQL database (issue 9 item 3): three
# node processes (A, B, C) share a private PostgreSQL cluster; HAProxy on
# 127.0.0.1 is their one public address (every node's smdpAddress), in TCP
# mode (mutual TLS passes through). The companion's push channel checks that
# the node signs the very address it dialled, so the companion dials that
# public address and HAProxy ("balance first") puts its stream on node A (the
# test checks A served it); the share is made directly on node B, the cancel
# directly on node C,
# and node C is SIGKILLed right after it committed the cancel (before it
# answered, its outbox call possibly in flight). Then: the companion on A got
# the delete C wrote at once (LISTEN/NOTIFY), the provider saw exactly one
# confirmOrder and one cancelOrder, each event and command exists once, and
# the share ended revoked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"

pg_start
HAP_PORT=$(free_port)
HAP_URL="https://127.0.0.1:$HAP_PORT"
pg_node_init "$HAP_URL"
# B and C: the same configuration (and node key), their own port files
cp -a "$T/node" "$T/nodeB"
cp -a "$T/node" "$T/nodeC"

pg_start_node "$T/node" "$T/nodeA.log"; A_PID=$PID_OUT; A_PORT=$PORT_OUT
pg_start_node "$T/nodeB" "$T/nodeB.log"; B_PID=$PID_OUT; B_PORT=$PORT_OUT
pg_start_node "$T/nodeC" "$T/nodeC.log" TAPSHARE_NODE_CRASH_AFTER=share_cancel; C_PID=$PID_OUT; C_PORT=$PORT_OUT
for l in A B C; do
	expect "node $l listens for the other nodes' changes" wait_log "$T/node$l.log" "LISTEN tapshare" 5
done

cat >"$T/haproxy.cfg" <<CFG
global
	maxconn 512
defaults
	mode tcp
	timeout connect 2s
	timeout client 60s
	timeout server 60s
	retries 3
	option redispatch
frontend nodes_in
	bind 127.0.0.1:$HAP_PORT
	default_backend nodes
backend nodes
	balance first
	server a 127.0.0.1:$A_PORT check inter 200ms fall 1 rise 2
	server b 127.0.0.1:$B_PORT check inter 200ms fall 1 rise 2
	server c 127.0.0.1:$C_PORT check inter 200ms fall 1 rise 2
CFG
/usr/sbin/haproxy -c -f "$T/haproxy.cfg" >"$T/haproxy.log" 2>&1 || { cat "$T/haproxy.log"; fail "haproxy.cfg is valid"; exit 1; }
/usr/sbin/haproxy -db -f "$T/haproxy.cfg" >>"$T/haproxy.log" 2>&1 &
HAP_PID=$!
PG_EXTRA_STOP='kill "$HAP_PID" 2>/dev/null; wait "$HAP_PID" 2>/dev/null'
i=0
until (exec 3<>"/dev/tcp/127.0.0.1/$HAP_PORT") 2>/dev/null; do
	i=$((i + 1)); [ $i -gt 50 ] && { fail "HAProxy listens on 127.0.0.1:$HAP_PORT"; exit 1; }; sleep 0.1
done
ok "HAProxy passes TCP (mutual TLS) through to the three nodes on 127.0.0.1:$HAP_PORT"

NODE_URL=$HAP_URL # the companion: on node A through HAProxy (balance first)
ts_init_se
ts_start_companion
alice enroll --node "https://127.0.0.1:$B_PORT" --ca "$T/pki/node-ca.crt" --code "$ALICE_CODE" --name "Alice's phone" \
	>"$T/enroll.log" 2>&1

# 1. the share, made through node B
t0=$(date +%s%N)
out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 40 2>&1) || { echo "$out"; fail "share through node B completes"; }
echo "$out"
expect "S6 second confirmation shown" grep -q "S6 second confirmation" <<<"$out"
SHARE=$(psql_node "SELECT id FROM shares LIMIT 1")
expect "node B took the share request" grep -q "S11 share request" "$T/nodeB.log"
expect_fail "node A did not take it" grep -q "S11 share request" "$T/nodeA.log"
expect "node A pushed the download to the companion" grep -q "S14 pushed download command for share $SHARE" "$T/nodeA.log"
expect "installed" [ "$(psql_node "SELECT state FROM shares WHERE id='$SHARE'")" = installed ]
echo "# share: $(( ($(date +%s%N) - t0) / 1000000 )) ms; authorised by: $(grep -l "S13 share $SHARE authorised" "$T"/node?.log | xargs -n1 basename | tr '\n' ' ')"

# 2. the cancel through node C, which dies right after committing it
sed -i "s|^url = .*|url = https://127.0.0.1:$C_PORT|" "$T/alice/"*.ini
grep -q "127.0.0.1:$C_PORT" "$T/alice/"*.ini || fail "the primary now talks to node C"
out=$(alice cancel "$SHARE" --timeout 10 2>&1) && fail "node C answered the cancel (the crash point did not fire)"
echo "$out" | tail -n 3
wait "$C_PID" 2>/dev/null || true
expect "node C was killed (SIGKILL) after committing the cancel" bash -c "! kill -0 $C_PID 2>/dev/null && grep -q 'TAPSHARE_NODE_CRASH_AFTER=share_cancel' '$T/nodeC.log'"
expect "the share ends revoked on the surviving nodes" bash -c \
	"for i in \$(seq 100); do [ \"\$('$PGBIN/psql' -X -A -t -q -h '$PGD' -U postgres -d tsnode -c \"SELECT state FROM shares WHERE id='$SHARE'\")\" = revoked ] && exit 0; sleep 0.2; done; exit 1"
# C's commit reached A's companion stream at once (NOTIFY, not a poll: push has none)
ms_of() {
	local ts
	ts=$(sed -n "s/^\([0-9T:.-]*Z\) .*$1.*/\1/p" "$2" | head -n 1)
	[ -n "$ts" ] && date -d "$ts" +%s%3N || echo 0
}
t_cancel=$(ms_of "S16 cancel requested for share $SHARE" "$T/nodeC.log")
t_push=$(ms_of "S14 pushed delete command for share $SHARE" "$T/nodeA.log")
echo "# cancel committed on C -> delete pushed by A: $((t_push - t_cancel)) ms"
pushed_at_once() { [ "$t_cancel" -gt 0 ] && [ "$t_push" -ge "$t_cancel" ] && [ $((t_push - t_cancel)) -lt 1000 ]; }
expect "the delete written on node C was pushed by node A within 1 s" pushed_at_once
wait_log "$T/sp.log" "cancelOrder" 15 || true
for i in $(seq 50); do
	[ "$(psql_node "SELECT COUNT(*) FROM outbox WHERE share_id='$SHARE' AND done=0")" = 0 ] && break
	sleep 0.2
done
echo "# cancelOrder completed by: $(grep -l "S16 provider operator told: share $SHARE" "$T"/node?.log | xargs -n1 basename | tr '\n' ' ')"

# 3. nothing lost, nothing twice
decisions=$("$TS_BIN/tapshare-sp" decisions --dir "$T/sp" --json | jdata)
expect "the provider saw exactly one confirmOrder" \
	[ "$(jq '[.[] | select(.function == "confirmOrder")] | length' <<<"$decisions")" = 1 ]
expect "the provider saw exactly one cancelOrder" \
	[ "$(jq '[.[] | select(.function == "cancelOrder")] | length' <<<"$decisions")" = 1 ]
expect "both outbox jobs done, once each" \
	[ "$(psql_node "SELECT string_agg(kind || ':' || done, ',' ORDER BY kind) FROM outbox WHERE share_id='$SHARE'")" = "cancel_order:1,confirm_order:1" ]
events=$(psql_node "SELECT type || '=' || COUNT(*) FROM events WHERE share_id='$SHARE' GROUP BY type ORDER BY MIN(id)" | tr '\n' ' ')
echo "# events: $events"
expect "each step's event exactly once" [ "$events" = "share.eid_confirmed=1 share.authorised=1 share.delivered=1 share.installed=1 share.cancel_pending=1 share.revoked=1 " ]
expect "one download and one delete command, both settled" \
	[ "$(psql_node "SELECT string_agg(type || ':' || done, ',' ORDER BY type) FROM companion_cmds WHERE share_id='$SHARE'")" = "delete:1,download:1" ]
expect "the companion's SE no longer holds the app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.data.apps | length == 0' >/dev/null"
# 4. a NOTIFY that was never sent (a node dying between its COMMIT and its
#    NOTIFY): a command written straight into the database, with no NOTIFY,
#    still reaches the companion's stream on A (pg_listen.c's sweep)
CEID=$(psql_node "SELECT eid FROM companion_cmds WHERE share_id='$SHARE' LIMIT 1")
psql_node "INSERT INTO companion_cmds(id, eid, share_id, type, data, created_at) VALUES(pg_current_xact_id()::text::bigint * 65536 + 1, '$CEID', 'sweep-heal', 'delete', '{\"share_id\":\"sweep-heal\",\"app_id\":\"sweep-heal\"}', 0)"
expect "a command committed without NOTIFY is pushed by node A within 5 s (the sweep)" \
	wait_log "$T/nodeA.log" "S14 pushed delete command for share sweep-heal" 5
psql_node "DELETE FROM companion_cmds WHERE share_id='sweep-heal'"
expect "no lock waits left over" [ "$(psql_node "SELECT COUNT(*) FROM pg_locks WHERE NOT granted")" = 0 ]
expect "no global advisory lock taken" [ "$(psql_node "SELECT COUNT(*) FROM pg_locks WHERE locktype='advisory' AND classid NOT IN (73103)")" = 0 ]
ts_done
