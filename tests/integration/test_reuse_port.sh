#!/usr/bin/env bash
# Several node processes on one port (issue 9 item 2): [node] reuse_port = true
# puts SO_REUSEPORT on the public listener, so two tapshare-node processes on
# one PostgreSQL database listen on the same 127.0.0.1:PORT and the kernel
# spreads the connections over both (each one counts its own TLS handshakes,
# read from each node's admin /metrics), and with one [tls] session_ticket_key
# each resumes the other's session tickets. Without the key the second process
# is refused ("already in use"). On SQLite the key is refused by `check`
# (a change made by one process would never reach the other's streams), and
# a second `run` on one SQLite file is refused whatever the port.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pglib.sh"

ts_pki
ts_start_sp

# ---- SQLite: refused ----------------------------------------------------------
"$TS_BIN/tapshare-node" init --dir "$T/sq" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/sq-init.log" 2>&1
cp "$T/sq/node.ini" "$T/sq/plain.ini"
PORT=$(free_port)
sed -i "s|^listen = .*|listen = 127.0.0.1:$PORT|" "$T/sq/node.ini"
printf 'reuse_port = true\n' >"$T/reuse.line"
sed -i "/^\[node\]/r $T/reuse.line" "$T/sq/node.ini"
out=$("$TS_BIN/tapshare-node" check --dir "$T/sq" 2>&1) && fail "check accepts reuse_port on SQLite"
echo "$out" | head -n 3
expect "check refuses reuse_port on SQLite, naming the key and PostgreSQL" \
	grep -q "reuse_port: several node processes on one port need a PostgreSQL database" <<<"$out"
out=$(timeout 10 "$TS_BIN/tapshare-node" run --dir "$T/sq" 2>&1) && fail "run starts with reuse_port on SQLite"
expect "run refuses it too" grep -q "reuse_port" <<<"$out"

# a second run on one SQLite file (ephemeral ports, so no bind conflict)
cp "$T/sq/plain.ini" "$T/sq/node.ini"
"$TS_BIN/tapshare-node" run --dir "$T/sq" >>"$T/sq1.log" 2>&1 &
SQ1=$!
PIDS+=("$SQ1")
wait_file "$T/sq/node.port" 10 || fail "the first SQLite node starts"
rc=0
out=$(timeout 10 "$TS_BIN/tapshare-node" run --dir "$T/sq" 2>&1) || rc=$?
echo "$out" | tail -n 1
expect "a second run on the same SQLite database is refused" [ "$rc" = 1 ]
expect "... saying why and what to use instead" grep -q "another tapshare-node run serves the SQLite database .*PostgreSQL" <<<"$out"
expect "the first node still serves" kill -0 "$SQ1"
ts_stop "$SQ1"
rm -f "$T/sq/node.port"
"$TS_BIN/tapshare-node" run --dir "$T/sq" >>"$T/sq2.log" 2>&1 &
SQ2=$!
PIDS+=("$SQ2")
expect "once the first has stopped, another run may serve it" wait_file "$T/sq/node.port" 10
ts_stop "$SQ2"

# ---- PostgreSQL: two processes, one port ----------------------------------------
pg_start
URL=$(pg_createdb tsnode)
PORT=$(free_port)
"$TS_BIN/tapshare-node" init --dir "$T/a" --pki "$T/pki" --listen "127.0.0.1:$PORT" >"$T/a-init.log" 2>&1
sed -i "s|^database = .*|database = ${URL//&/\\&}|" "$T/a/node.ini"
rm -f "$T/a/node.db"*
cp -a "$T/a" "$T/b"
A_ADMIN=$(free_port)
B_ADMIN=$(free_port)
printf 'admin_listen = 127.0.0.1:%s\n' "$A_ADMIN" >"$T/a.line"
printf 'admin_listen = 127.0.0.1:%s\n' "$B_ADMIN" >"$T/b.line"
sed -i "/^\[node\]/r $T/a.line" "$T/a/node.ini"
sed -i "/^\[node\]/r $T/b.line" "$T/b/node.ini"

# without the key: the second process cannot listen
"$TS_BIN/tapshare-node" run --dir "$T/a" >>"$T/a.log" 2>&1 &
A=$!
PIDS+=("$A")
wait_file "$T/a/node.port" 10 || fail "node A starts"
rc=0
out=$(timeout 10 "$TS_BIN/tapshare-node" run --dir "$T/b" 2>&1) || rc=$?
expect "without reuse_port a second process on the port is refused" grep -q "already in use" <<<"$out"
ts_stop "$A"

for d in a b; do sed -i "/^\[node\]/r $T/reuse.line" "$T/$d/node.ini"; done
# one session-ticket key for both: a ticket issued by one process is resumed by the other
head -c 80 /dev/urandom >"$T/ticket.key"
printf 'session_ticket_key = %s\n' "$T/ticket.key" >"$T/ticket.line"
for d in a b; do sed -i "/^\[tls\]/r $T/ticket.line" "$T/$d/node.ini"; done
expect "check accepts reuse_port on PostgreSQL with a fixed port" "$TS_BIN/tapshare-node" check --dir "$T/a"
rm -f "$T/a/node.port" "$T/b/node.port"
"$TS_BIN/tapshare-node" run --dir "$T/a" >>"$T/a.log" 2>&1 &
A=$!
PIDS+=("$A")
"$TS_BIN/tapshare-node" run --dir "$T/b" >>"$T/b.log" 2>&1 &
B=$!
PIDS+=("$B")
wait_file "$T/a/node.port" 10 || fail "node A starts with reuse_port"
wait_file "$T/b/node.port" 10 || fail "node B starts with reuse_port"
both_listen() { [ "$(cat "$T/a/node.port")" = "$PORT" ] && [ "$(cat "$T/b/node.port")" = "$PORT" ] && kill -0 "$A" && kill -0 "$B"; }
expect "both processes listen on the one port" both_listen
handshakes() { curl -s "http://127.0.0.1:$1/metrics" | sed -n 's/^tapshare_tls_handshakes_total{result="ok"} \([0-9]*\)$/\1/p'; }
# 40 fresh TLS connections to the one port (each its own source port)
for i in $(seq 40); do
	curl -s -o /dev/null --max-time 5 --cacert "$T/pki/node-ca.crt" "https://127.0.0.1:$PORT/v1/none" || true
done
ha=$(handshakes "$A_ADMIN")
hb=$(handshakes "$B_ADMIN")
echo "# TLS handshakes: node A ${ha:-?}, node B ${hb:-?} (of 40)"
spread() { [ "${ha:-0}" -ge 1 ] && [ "${hb:-0}" -ge 1 ] && [ $((ha + hb)) -eq 40 ]; }
expect "the kernel spread the connections over both processes" spread
# One session (its ticket), then 20 fresh connections offering it: the kernel
# sends about half of them to the process that did not issue the ticket; all
# resume (with a key per process only the issuer's would: all 20 landing on
# it has odds of 2^-20).
printf 'GET /v1/none HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$T/pki/node-ca.crt" \
	-sess_out "$T/sess.pem" -quiet >/dev/null 2>&1 || true
expect "a session ticket was saved" [ -s "$T/sess.pem" ]
reused=0
for i in $(seq 20); do
	if timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$T/pki/node-ca.crt" -sess_in "$T/sess.pem" \
		</dev/null 2>/dev/null | grep -q '^Reused, TLSv1\.3'; then
		reused=$((reused + 1))
	fi
done
echo "# resumed: $reused of 20"
expect "every connection resumed the session, on either process (one ticket key)" [ "$reused" = 20 ]
ts_stop "$B"
expect "with one process gone the port still serves" \
	curl -s -o /dev/null --max-time 5 --cacert "$T/pki/node-ca.crt" "https://127.0.0.1:$PORT/v1/none"
ts_done
