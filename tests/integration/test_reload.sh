#!/usr/bin/env bash
# SIGHUP reloads the node's configuration, TLS certificate and providers
# without dropping open streams; a broken configuration is refused, logged,
# and the running one kept (issue 10). SIGHUP no longer kills the node.
source "$(dirname "$0")/lib.sh"
ts_pki
ts_start_sp
ts_init_node
# One outbox worker: the one whose provider client is cached by share 1 must
# be the one to call the new provider after the reload.
sed -i 's/^outbox_workers = .*/outbox_workers = 1/' "$T/node/node.ini"
ts_start_node
ts_init_se
ts_start_companion
ts_enroll

serial() { # the serial of the certificate the node presents now
	openssl s_client -connect "127.0.0.1:$NODE_PORT" -CAfile "$T/pki/node-ca.crt" </dev/null 2>/dev/null |
		openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
hup_and_wait() { # hup_and_wait REGEX: send SIGHUP, wait for REGEX in a new log line
	local before
	before=$(wc -l <"$T/node.log")
	kill -HUP "$NODE_PID"
	local i=0
	while ! tail -n +"$((before + 1))" "$T/node.log" | grep -qE "$1"; do
		i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.1
	done
}

# A first share warms the outbox workers' provider clients.
expect "share 1 completes before the reload" alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60
OLD_SERIAL=$(serial)
expect "the node presents its TLS certificate (serial $OLD_SERIAL)" test -n "$OLD_SERIAL"

# An open event stream (raw SSE over one TLS connection: curl exits if it drops).
curl -sN --cacert "$T/alice/ca.crt" --cert "$T/alice/device.crt" --key "$T/alice/device.key" \
	"$NODE_URL/v1/events" >"$T/stream.out" 2>"$T/stream.err" &
CURL_PID=$!
PIDS+=("$CURL_PID")
sleep 0.5
expect "event stream open" kill -0 "$CURL_PID"
COMP_CONNECTS=$(grep -c "connected to its push channel" "$T/node.log")

# New certificate (same key, same CA, serial 4242) and a new provider whose
# TLS certificate comes from another CA: the workers' cached clients must go.
openssl req -new -key "$T/node/pki/node-tls.key" -subj "/CN=tapshare node (reloaded)" -out "$T/new.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >"$T/ext.cnf"
openssl x509 -req -in "$T/new.csr" -CA "$T/node/pki/node-ca.crt" -CAkey "$T/node/pki/node-ca.key" \
	-set_serial 4242 -days 30 -extfile "$T/ext.cnf" -out "$T/new-tls.crt" 2>/dev/null
expect "new TLS certificate made" test -s "$T/new-tls.crt"
"$TS_BIN/tapshare-node" testpki "$T/pki2" --eid "$EID" >/dev/null 2>&1
"$TS_BIN/tapshare-sp" init --dir "$T/sp2" --pki "$T/pki2" --listen 127.0.0.1:0 >"$T/sp2-init.log" 2>&1
cp "$T/pki/node-ca.crt" "$T/sp2/node-ca.crt"           # it trusts this node's client certificate
sed -i 's/^allowed_clients = .*/allowed_clients =/' "$T/sp2/sp.ini"
"$TS_BIN/tapshare-sp" run --dir "$T/sp2" >>"$T/sp2.log" 2>&1 &
SP2_PID=$!
PIDS+=("$SP2_PID")
wait_file "$T/sp2/sp.port" 10
"$TS_BIN/tapshare-node" provider add operator "https://127.0.0.1:$(cat "$T/sp2/sp.port")" \
	--ca "$T/pki2/node-ca.crt" --dir "$T/node" 2>>"$T/node-init.log"
cp "$T/node/node.ini" "$T/node.ini.before"
sed -i "s|^cert = .*node-tls.crt|cert = $T/new-tls.crt|" "$T/node/node.ini"

expect "SIGHUP: the node logs the reload" hup_and_wait "reloaded .*node.ini: TLS certificate $T/new-tls.crt"
expect "still running after SIGHUP" kill -0 "$NODE_PID"
NEW_SERIAL=$(serial)
expect "new connections get the new certificate (serial $NEW_SERIAL = 4242 = 0x1092)" test "$NEW_SERIAL" = "1092"
expect "the event stream opened before the reload is still open" kill -0 "$CURL_PID"
expect "the companion's push channel was not dropped" \
	test "$(grep -c "connected to its push channel" "$T/node.log")" -eq "$COMP_CONNECTS"

# Share 2 goes to the new provider (its CA is only known after the reload).
alice cancel "$(alice shares --json | jq -r '.data | .shares[0].share_id')" >/dev/null 2>&1 || true
out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1)
expect "share 2 completes after the reload" test $? -eq 0
expect "... authorised by the new provider" \
	bash -c "'$TS_BIN/tapshare-sp' decisions --dir '$T/sp2' --json | jq -e '.data | map(select(.function == \"confirmOrder\" and .decision == \"approved\")) | length == 1' >/dev/null"
S2=$(alice shares --json | jq -r '.data | [.shares[] | select(.state == "installed")][0].share_id')
expect "the stream opened before the reload carried share 2's events" \
	wait_log "$T/stream.out" "$S2" 10

# A broken configuration: refused, logged, the running one kept.
sed -i 's/^listen =/lisen =/' "$T/node/node.ini"
expect "SIGHUP with a misspelled key: refusal logged" hup_and_wait "reload refused: .*node.ini has errors"
expect "... naming the key and line" grep -qE "node.ini:[0-9]+: \[node\] lisen: unknown key" "$T/node.log"
expect "... still running" kill -0 "$NODE_PID"
expect "... still the reloaded certificate" test "$(serial)" = "1092"
expect "... stream still open" kill -0 "$CURL_PID"
expect "... and serving requests" alice shares
sed -i "s|^cert = .*|cert = $T/none.crt|" "$T/node/node.ini"
sed -i 's/^lisen =/listen =/' "$T/node/node.ini"
expect "SIGHUP with a missing certificate: refused" hup_and_wait "reload refused"
expect "... the missing file named" grep -qF "$T/none.crt: no such file" "$T/node.log"
expect "... still running" kill -0 "$NODE_PID"

# Back to a good configuration: accepted again.
cp "$T/node.ini.before" "$T/node/node.ini"
expect "SIGHUP with the original configuration: reloaded" hup_and_wait "reloaded .*node.ini"
expect "... original certificate again" test "$(serial)" = "$OLD_SERIAL"

# A new database waits for a restart: the reload says so and does not create it.
sed -i "s|^database = .*|database = sqlite:$T/other.db|" "$T/node/node.ini"
expect "SIGHUP with another database: reloaded, with a note" \
	hup_and_wait "\[node\] database changed; it takes effect at the next start"
expect "... the other database was not created by the reload" test ! -e "$T/other.db"
expect "... and the running one still serves" alice shares
cp "$T/node.ini.before" "$T/node/node.ini"

# The provider reloads its policy on SIGHUP and refuses a broken one.
printf '[default]\ndecision = deny\nmax_durration_s = 5\n' >"$T/sp2/policy.ini"
kill -HUP "$SP2_PID"
expect "provider: broken policy refused on SIGHUP, with file:line" \
	wait_log "$T/sp2.log" "policy reload failed, keeping the old one: .*policy.ini:3: \[default\] max_durration_s: unknown key" 5
expect "provider still running" kill -0 "$SP2_PID"
kill "$CURL_PID" 2>/dev/null; wait "$CURL_PID" 2>/dev/null || true # curl exits 143 on SIGTERM
ts_done
