#!/usr/bin/env bash
# Strict configuration (issue 10): unknown keys and bad values are errors that
# name file, line and key, in `check` and at start; "port in use" and a missing
# certificate are named as such; database passwords never printed.
source "$(dirname "$0")/lib.sh"
set +e # commands are expected to fail here; every outcome is checked
NODE="$TS_BIN/tapshare-node"
SPB="$TS_BIN/tapshare-sp"
ts_pki
"$NODE" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
INI="$T/node/node.ini"
cp "$INI" "$T/good.ini"

out=$("$NODE" check --dir "$T/node" 2>&1)
expect "check: a fresh node.ini is clean (exit 0)" test $? -eq 0
expect "... and says so" grep -q "configuration OK" <<<"$out"

line_of() { grep -n "^$1 =" "$INI" | head -1 | cut -d: -f1; }

# bad KEY_REGEX REPLACEMENT EXPECTED_MESSAGE: check and run refuse, naming file:line.
bad() {
	cp "$T/good.ini" "$INI"
	local ln
	ln=$(line_of "$1")
	sed -i "${ln}s|.*|$2|" "$INI"
	local want="$INI:$ln: $3"
	out=$("$NODE" check --dir "$T/node" 2>&1)
	local st=$?
	if [ $st -eq 1 ] && grep -qF -- "$want" <<<"$out"; then ok "check refuses '$2': $want"
	else fail "check '$2' (status $st): want '$want', got: $out"; fi
	rm -f "$T/node/node.port"
	out=$(timeout 10 "$NODE" run --dir "$T/node" 2>&1)
	st=$?
	if [ $st -eq 1 ] && grep -qF -- "$want" <<<"$out" && [ ! -e "$T/node/node.port" ]; then
		ok "run refuses to start with '$2' (exit 1, same message)"
	else fail "run with '$2' (status $st): want '$want', got: $out"; fi
}
bad listen "lisen = 127.0.0.1:0" "[node] lisen: unknown key"
bad log_level "log_level = verbose" "[node] log_level: 'verbose' is not one of debug, info, warn, error"
bad outbox_workers "outbox_workers = 9" "[node] outbox_workers: '9' is not an integer in 1..8"
bad listen "listen = localhost" "[node] listen: 'localhost' is not HOST:PORT"
bad address "address = http://node.example" "[node] address: 'http://node.example' is not an https:// URL"
bad database "database = mysql://u:hunter2@h/db" "[node] database: 'mysql://u:***@h/db' is not sqlite:PATH"
expect_fail "... the password is not printed" grep -q hunter2 <<<"$out"

# A missing certificate is named as a missing file, at its line.
cp "$T/good.ini" "$INI"
ln=$(grep -n "^cert = .*node-tls.crt" "$INI" | cut -d: -f1)
sed -i "${ln}s|.*|cert = $T/none/node-tls.crt|" "$INI"
out=$("$NODE" run --dir "$T/node" 2>&1)
expect "missing TLS certificate: run names the file as missing" \
	grep -qF "$INI:$ln: [tls] cert: $T/none/node-tls.crt: no such file" <<<"$out"

# A key that does not belong to its certificate.
cp "$T/good.ini" "$INI"
sed -i "s|^key = .*node-tls.key|key = $T/pki/sp-tls.key|" "$INI"
out=$("$NODE" check --dir "$T/node" 2>&1)
expect "check: TLS key of another certificate is refused" grep -q "\[tls\] key: .*sp-tls.key does not belong to the certificate" <<<"$out"

# A session ticket key of the wrong size: check names it (run refuses it too).
cp "$T/good.ini" "$INI"
head -c 79 /dev/urandom >"$T/ticket-79.key"
head -c 80 /dev/urandom >"$T/ticket-80.key"
sed -i "s|^key = .*node-tls.key|&\nsession_ticket_key = $T/ticket-79.key|" "$INI"
out=$("$NODE" check --dir "$T/node" 2>&1)
expect "check: a 79-byte session ticket key is refused, with the size and how to make one" \
	grep -qF "[tls] session_ticket_key: $T/ticket-79.key: 79 bytes; a session ticket key is exactly 80" <<<"$out"
sed -i "s|ticket-79.key|ticket-80.key|" "$INI"
out=$("$NODE" check --dir "$T/node" 2>&1)
expect "check: an 80-byte session ticket key is clean" grep -q "configuration OK" <<<"$out"

# Every problem at once, in file order, and a misspelled section.
cp "$T/good.ini" "$INI"
sed -i 's/^listen =/lisen =/; s/^log_level = info/log_level = loud/; s/^\[trust\]/[trusts]/' "$INI"
out=$("$NODE" check --dir "$T/node" 2>&1)
st=$?
n=$(grep -c "tapshare-node: error: $INI" <<<"$out")
expect "check names every problem (unknown key, bad value, unknown section, required keys of [trust])" \
	test "$st" -eq 1 -a "$n" -eq 5
expect "... with a count" grep -q "$INI: 5 problems" <<<"$out"

# The database password is redacted when the database cannot be opened.
cp "$T/good.ini" "$INI"
sed -i "s|^database = .*|database = postgresql://tapshare:S3cretPassw0rd@127.0.0.1:1/tapshare|" "$INI"
out=$(timeout 20 "$NODE" run --dir "$T/node" 2>&1)
expect "unreachable PostgreSQL: run exits 1" test $? -eq 1
expect "... naming the database with the password redacted" \
	grep -qF "postgresql://tapshare:***@127.0.0.1:1/tapshare" <<<"$out"
expect_fail "... and the password nowhere" grep -q S3cretPassw0rd <<<"$out"

# Port in use: a second node on the first one's port.
cp "$T/good.ini" "$INI"
rm -f "$T/node/node.port"
"$NODE" run --dir "$T/node" >>"$T/node.log" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_file "$T/node/node.port" 10
PORT=$(cat "$T/node/node.port")
mkdir -p "$T/node2"
sed -e "s|^listen = .*|listen = 127.0.0.1:$PORT|" -e "s|$T/node/node.db|$T/node2/node.db|" "$INI" >"$T/node2/node.ini"
out=$("$NODE" run --dir "$T/node2" 2>&1)
expect "port in use: exit 1" test $? -eq 1
expect "... reported as 'address 127.0.0.1:$PORT already in use'" \
	grep -qF "address 127.0.0.1:$PORT already in use" <<<"$out"

# The installed layout: --config, and systemd's directory variables.
mkdir -p "$T/etc" "$T/state"
cp "$T/good.ini" "$T/etc/node.ini"
out=$("$NODE" check --config "$T/etc/node.ini" --dir "$T/state" 2>&1)
expect "check --config FILE --dir STATE" grep -qF "$T/etc/node.ini: configuration OK (state in $T/state)" <<<"$out"
out=$(CONFIGURATION_DIRECTORY="$T/etc" STATE_DIRECTORY="$T/state" "$NODE" check 2>&1)
expect "check without options under systemd: \$CONFIGURATION_DIRECTORY/node.ini" \
	grep -qF "$T/etc/node.ini: configuration OK (state in $T/state)" <<<"$out"

# --- the provider -----------------------------------------------------------
"$SPB" init --dir "$T/sp" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/sp-init.log" 2>&1
out=$("$SPB" check --dir "$T/sp" 2>&1)
expect "sp check: a fresh provider directory is clean" test $? -eq 0
cp "$T/sp/policy.ini" "$T/policy.good"
cat >>"$T/sp/policy.ini" <<'POL'

[app.sim-alice]
decision = approve
max_durration_s = 60
POL
ln=$(grep -n "^max_durration_s" "$T/sp/policy.ini" | cut -d: -f1)
want="$T/sp/policy.ini:$ln: [app.sim-alice] max_durration_s: unknown key"
out=$("$SPB" check --dir "$T/sp" 2>&1)
st=$?
if [ $st -eq 1 ] && grep -qF -- "$want" <<<"$out"; then ok "sp check: misspelled policy key in an app section: $want"
else fail "sp check misspelled policy key (status $st): $out"; fi
out=$(timeout 10 "$SPB" run --dir "$T/sp" 2>&1)
st=$?
if [ $st -eq 1 ] && grep -qF -- "$want" <<<"$out"; then ok "sp run refuses the misspelled policy key"
else fail "sp run with a misspelled policy key (status $st): $out"; fi
cp "$T/policy.good" "$T/sp/policy.ini"
printf '[default]\nkind = car\n' >"$T/sp/policy.ini"
out=$("$SPB" check --dir "$T/sp" 2>&1)
expect "sp check: bad policy value" grep -qF "$T/sp/policy.ini:2: [default] kind: 'car' is not one of sim, bankid, service" <<<"$out"
cp "$T/policy.good" "$T/sp/policy.ini"
sed -i 's/^timeout_s = 60/timout_s = 60/' "$T/sp/sp.ini"
ln=$(grep -n "^timout_s" "$T/sp/sp.ini" | cut -d: -f1)
out=$("$SPB" run --dir "$T/sp" 2>&1)
expect "sp run: unknown key in sp.ini refused with file:line" \
	grep -qF "$T/sp/sp.ini:$ln: [sp] timout_s: unknown key" <<<"$out"
sed -i 's/^timout_s = 60/timeout_s = 60/' "$T/sp/sp.ini"
mv "$T/sp/sp-tls.crt" "$T/sp/sp-tls.crt.away"
out=$("$SPB" check --dir "$T/sp" 2>&1)
expect "sp check: a missing certificate is named as a missing file" \
	grep -qF "[tls] cert: $T/sp/sp-tls.crt: no such file" <<<"$out"
mv "$T/sp/sp-tls.crt.away" "$T/sp/sp-tls.crt"
out=$("$SPB" check --dir "$T/sp" 2>&1)
expect "sp check: clean again" test $? -eq 0
ts_done
