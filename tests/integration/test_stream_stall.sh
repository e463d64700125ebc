#!/usr/bin/env bash
# An event stream whose client stops reading is closed once its writes have
# waited PUSH_STALL_MS (60 s; the test hook TAPSHARE_PUSH_STALL_MS=1000 makes
# it 1 s here), at its next keepalive walk (push_tick, every
# NODE_KEEPALIVE_S = 15 s per stream): a reader that stopped reading must not
# hold its descriptor and a growing out buffer for ever. A stream that reads
# stays open. The stalled client: a TLS socket with a 4 kB receive buffer
# that asks for ?after=0 over ~8 MB of alice's history (synthetic events
# written into node.db) and never reads, so the node's writes must wait.
# Mutant: without the fail_sub() of the stall branch in push_tick, the
# stream stays open and this fails.
. "$(dirname "$0")/lib.sh"
ts_pki
ts_start_sp
ts_init_node
sed -i 's/^log_level = info/log_level = info\nadmin_listen = 127.0.0.1:0/' "$T/node/node.ini"
TAPSHARE_PUSH_STALL_MS=1000 ts_start_node
wait_file "$T/node/admin.port" 10
ADMIN="http://127.0.0.1:$(cat "$T/node/admin.port")"
ts_enroll
A="$T/alice"
metric() { curl -s "$ADMIN/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# wait_streams N SECONDS: the node holds exactly N event streams
wait_streams() {
	local i=0
	until [ "$(metric tapshare_event_streams)" = "$1" ]; do
		i=$((i + 1)); [ $i -gt $(($2 * 10)) ] && return 1; sleep 0.1
	done
}

# ~8 MB of history for alice: 2,000 events of ~4 kB (more than the node's
# socket send buffer can take, 4 MB at most here: net.ipv4.tcp_wmem)
UID_A=$(sqlite3 "$T/node/node.db" "SELECT id FROM users WHERE name = 'alice'")
sqlite3 "$T/node/node.db" "PRAGMA busy_timeout = 5000;
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 2000)
INSERT INTO events(user_id, share_id, type, data, created_at)
  SELECT $UID_A, 'stall-test', 'share.state', '{\"pad\":\"' || hex(randomblob(2000)) || '\"}', 0 FROM c;"
expect "alice has 2,000 events of history" \
	[ "$(sqlite3 "$T/node/node.db" "SELECT count(*) FROM events WHERE user_id = $UID_A")" -ge 2000 ]

# A stream that reads: from now, keepalives only.
curl -sS -N --max-time 60 --cacert "$T/pki/node-ca.crt" --cert "$A/device.crt" --key "$A/device.key" \
	"$NODE_URL/v1/events" >"$T/reader.out" 2>/dev/null &
READER=$!
PIDS+=("$READER")
expect "the reading stream opens" wait_streams 1 10

# The stalled one: reads the first bytes of the answer, then nothing.
python3 - "$NODE_PORT" "$T/pki/node-ca.crt" "$A/device.crt" "$A/device.key" "$T/stalled.out" <<'EOF' &
import socket, ssl, sys, time
port, ca, crt, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(crt, key)
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window stays small
s.connect(("127.0.0.1", port))
t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
t.sendall(b"GET /v1/events?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
head = t.recv(64)
with open(out, "wb") as f:
    f.write(head)
time.sleep(60)  # the test kills it sooner
EOF
STALLED=$!
PIDS+=("$STALLED")
# (the node formats the whole replay before the head leaves: seconds under ASan)
wait_file "$T/stalled.out" 60 || true
expect "the stalled stream opened (200)" grep -q "^HTTP/1.1 200" "$T/stalled.out"
expect "the node holds both streams" wait_streams 2 10
# closed at the first keepalive walk after its writes waited 1 s: <= ~16 s
expect "the stalled stream is closed (its writes waited)" wait_log "$T/node.log" "its writes waited 1000 ms; closed" 40
expect "the node holds the reading stream only" wait_streams 1 5
expect "the reading stream is still open" kill -0 "$READER"
expect "and it got its keepalives" grep -q "^: keepalive" "$T/reader.out"
kill "$STALLED" "$READER" 2>/dev/null || true # clients: their exit status is SIGTERM's
wait "$STALLED" "$READER" 2>/dev/null || true
ts_done
