#!/usr/bin/env bash
# Logging under systemd (issue 10): with JOURNAL_STREAM naming its stderr
# (what systemd sets for StandardError=journal) the node writes each record
# to the journal socket in the native protocol — PRIORITY (syslog levels),
# SYSLOG_IDENTIFIER, MESSAGE and the structured fields TAPSHARE_SHARE_ID,
# TAPSHARE_EID, TAPSHARE_DEVICE_ID — read here by tests/helpers/journal_listen
# on a socket this test binds ($TAPSHARE_JOURNAL_SOCKET). [node] log = stderr
# keeps stderr whatever systemd says; a bad value is a configuration error.
source "$(dirname "$0")/lib.sh"
ts_pki
"$TS_BIN/journal_listen" "$T/journal.sock" 120 >"$T/journal.log" 2>"$T/journal.err" &
LPID=$!
PIDS+=("$LPID")
i=0; while [ ! -S "$T/journal.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
ts_start_sp
ts_init_node
ts_init_se
# the node's stderr is $T/node.log: JOURNAL_STREAM names that file, as systemd
# names the stream socket it connects to stderr
: >"$T/node.log"
JS=$(stat -L -c '%d:%i' "$T/node.log")
TAPSHARE_JOURNAL_SOCKET="$T/journal.sock" JOURNAL_STREAM="$JS" ts_start_node 2>/dev/null || true
[ -n "${NODE_PORT:-}" ] || {
	# node.port is written whatever the log target; listening goes to the journal
	wait_file "$T/node/node.port" 10
	NODE_PORT=$(cat "$T/node/node.port"); NODE_URL="https://127.0.0.1:$NODE_PORT"
}
ts_start_companion
ts_enroll
expect "the node's start-up went to the journal (PRIORITY=6, identifier)" \
	wait_log "$T/journal.log" '^PRIORITY=6\|SYSLOG_IDENTIFIER=tapshare-node\|MESSAGE=listening on https://127.0.0.1' 10
expect "nothing but pre-config lines on the node's stderr" bash -c "! grep -q 'listening on' '$T/node.log'"
out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share completes"; }
SHARE=$(alice shares --json | jq -r '(.data // .).shares[0].share_id')
expect "a share ($SHARE)" [ ${#SHARE} -eq 32 ]
expect "S12 record carries TAPSHARE_SHARE_ID and TAPSHARE_EID" \
	wait_log "$T/journal.log" "MESSAGE=S12 .*\|TAPSHARE_SHARE_ID=$SHARE\|TAPSHARE_EID=$EID" 10
expect "S11 record carries TAPSHARE_DEVICE_ID (the logged 16-digit prefix) and the EID" \
	grep -Eq "MESSAGE=S11 share request from device [0-9a-f]{16}.*\|TAPSHARE_EID=$EID\|TAPSHARE_DEVICE_ID=[0-9a-f]{16}$" "$T/journal.log"
expect "no malformed record" bash -c "! grep -q MALFORMED '$T/journal.log'"
# a warning has priority 4: a wrong passphrase is logged as one
curl -sS --max-time 20 --cacert "$T/pki/node-ca.crt" --cert "$T/bob/device.crt" --key "$T/bob/device.key" \
	-X POST "$NODE_URL/v1/session" -H 'Content-Type: application/json' -d '{"passphrase":"wrong passphrase!"}' \
	>/dev/null 2>&1 || true
expect "a warning is PRIORITY=4, with the device's field" \
	wait_log "$T/journal.log" '^PRIORITY=4\|SYSLOG_IDENTIFIER=tapshare-node\|MESSAGE=wrong passphrase from device .*\|TAPSHARE_DEVICE_ID=[0-9a-f]{16}$' 10
# a reload refused for a broken configuration: each problem is an error record
cp "$T/node/node.ini" "$T/node.ini.good"
sed -i 's/^listen = /lisen = /' "$T/node/node.ini"
kill -HUP "$NODE_PID"
expect "the refused reload is an error record (PRIORITY=3)" wait_log "$T/journal.log" '^PRIORITY=3\|SYSLOG_IDENTIFIER=tapshare-node\|MESSAGE=.*lisen' 10
cp "$T/node.ini.good" "$T/node/node.ini"
ts_stop "$NODE_PID"
n_before=$(wc -l <"$T/journal.log")

# [node] log = stderr: stderr although JOURNAL_STREAM says journal
printf '[node]\n' >/dev/null
sed -i 's/^log_level = info$/log_level = info\nlog = stderr/' "$T/node/node.ini"
expect "node.ini has log = stderr" grep -q '^log = stderr$' "$T/node/node.ini"
rm -f "$T/node/node.port"
: >"$T/node2.log"
JS=$(stat -L -c '%d:%i' "$T/node2.log")
TAPSHARE_JOURNAL_SOCKET="$T/journal.sock" JOURNAL_STREAM="$JS" "$TS_BIN/tapshare-node" run --dir "$T/node" >>"$T/node2.log" 2>&1 &
N2=$!
PIDS+=("$N2")
expect "log = stderr: the node logs to stderr" wait_log "$T/node2.log" 'INFO listening on' 10
ts_stop "$N2"
expect "log = stderr: nothing more reached the journal" [ "$(wc -l <"$T/journal.log")" = "$n_before" ]
sed -i 's/^log = stderr$/log = journald/' "$T/node/node.ini"
out=$("$TS_BIN/tapshare-node" check --dir "$T/node" 2>&1) && st=0 || st=$?
expect "log = journald is a configuration error naming the key" bash -c "[ $st = 1 ] && grep -q 'log' <<<'$out' && grep -q 'node.ini:' <<<'$out'"
ts_done
