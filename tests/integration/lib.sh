#!/usr/bin/env bash
# Shared set-up for integration tests: a fresh test PKI, node, provider, secure
# element and companion on 127.0.0.1 in a temporary directory, all stopped by
# PID on exit. Source it, then call ts_start_all.
set -euo pipefail

TS_BIN=${TS_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)}
EID=89049032123451234512345678901235
EID2=89049032123451234512345678901332   # second companion (same EUM)
PASS="correct horse battery staple"
export TAPSHARE_PASSPHRASE="$PASS"

T=$(mktemp -d /tmp/tapshare-it.XXXXXX)
PIDS=()
FAILS=0
CHECKS=0

ts_cleanup() {
	local rc=$?
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && ts_stop "$p"
	done
	[ "$FAILS" -ne 0 ] && [ "$rc" -eq 0 ] && rc=1
	if [ "$rc" -ne 0 ] || [ "$FAILS" -ne 0 ]; then
		echo "---- logs ($T) ----"
		for f in "$T"/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 60 "$f"; }; done
		# a sanitizer report may lie further back than the tail: print each whole
		for f in "$T"/*.log; do
			[ -f "$f" ] && grep -qE 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f" || continue
			echo "== sanitizer report in $f"
			grep -nE -A 80 'ERROR: (Address|Leak|Thread)Sanitizer|runtime error:' "$f" | head -n 400
		done
	fi
	if [ -n "${TS_KEEP:-}" ]; then echo "kept $T"; else rm -rf "$T"; fi
	exit $rc
}
trap ts_cleanup EXIT

ok() { CHECKS=$((CHECKS + 1)); echo "ok - $*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
# expect DESC CMD...: the command must succeed
expect() { local d=$1; shift; if "$@"; then ok "$d"; else fail "$d"; fi; }
# expect_fail DESC CMD...: the command must fail
expect_fail() { local d=$1; shift; if "$@"; then fail "$d"; else ok "$d"; fi; }
ts_done() {
	echo "$((CHECKS - FAILS)) passed, $FAILS failed"
	[ "$FAILS" -eq 0 ]
}

# wait_file FILE SECONDS
wait_file() {
	local i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1)); [ $i -gt $(($2 * 10)) ] && return 1; sleep 0.1
	done
}
# wait_log FILE REGEX SECONDS
wait_log() {
	local i=0
	while ! grep -qE "$2" "$1" 2>/dev/null; do
		i=$((i + 1)); [ $i -gt $(($3 * 10)) ] && return 1; sleep 0.1
	done
}

ts_pki() {
	"$TS_BIN/tapshare-node" testpki "$T/pki" --eid "$EID" --eid "$EID2" --ein 89049032 2>"$T/pki.log"
}

ts_start_sp() {
	"$TS_BIN/tapshare-sp" init --dir "$T/sp" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/sp-init.log" 2>&1
	[ -n "${SP_POLICY:-}" ] && printf '%s\n' "$SP_POLICY" >"$T/sp/policy.ini"
	rm -f "$T/sp/sp.port"
	"$TS_BIN/tapshare-sp" run --dir "$T/sp" >>"$T/sp.log" 2>&1 &
	SP_PID=$!
	PIDS+=("$SP_PID")
	wait_file "$T/sp/sp.port" 10
	SP_PORT=$(cat "$T/sp/sp.port")
}

ts_init_node() {
	"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
	"$TS_BIN/tapshare-node" provider add operator "https://127.0.0.1:$SP_PORT" --dir "$T/node" 2>>"$T/node-init.log"
	ALICE_CODE=$(printf '%s\n' "$PASS" | "$TS_BIN/tapshare-node" user add alice --dir "$T/node" 2>>"$T/node-init.log")
	BOB_CODE=$(printf '%s\n' "bob's passphrase 42" | "$TS_BIN/tapshare-node" user add bob --dir "$T/node" 2>>"$T/node-init.log")
	"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id sim-alice --name "Alice mobile" \
		--kind sim --provider operator 2>>"$T/node-init.log"
	"$TS_BIN/tapshare-node" app add --dir "$T/node" --user bob --app-id sim-bob --name "Bob mobile" \
		--kind sim --provider operator 2>>"$T/node-init.log"
	"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id svc-locked --name "Locked" \
		--kind service --provider operator --not-shareable 2>>"$T/node-init.log"
}

# A second provider (a bank) with its own database and policy, same PKI: the
# node serves several providers at once, each with its own endpoint and trust.
ts_start_bank() {
	"$TS_BIN/tapshare-sp" init --dir "$T/bank" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/bank-init.log" 2>&1
	rm -f "$T/bank/sp.port"
	"$TS_BIN/tapshare-sp" run --dir "$T/bank" >>"$T/bank.log" 2>&1 &
	BANK_PID=$!
	PIDS+=("$BANK_PID")
	wait_file "$T/bank/sp.port" 10
	BANK_PORT=$(cat "$T/bank/sp.port")
	"$TS_BIN/tapshare-node" provider add bank "https://127.0.0.1:$BANK_PORT" --dir "$T/node" 2>>"$T/node-init.log"
	"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id bankid-alice --name "Alice bank ID" \
		--kind bankid --provider bank 2>>"$T/node-init.log"
	"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id svc-parking --name "Parking pass" \
		--kind service --provider operator 2>>"$T/node-init.log"
}

ts_start_node() {
	rm -f "$T/node/node.port"
	"$TS_BIN/tapshare-node" run --dir "$T/node" >>"$T/node.log" 2>&1 &
	NODE_PID=$!
	PIDS+=("$NODE_PID")
	wait_file "$T/node/node.port" 10
	NODE_PORT=$(cat "$T/node/node.port")
	NODE_URL="https://127.0.0.1:$NODE_PORT"
}

ts_init_se() {
	"$TS_BIN/tapshare-se" init --state "$T/se.state" --pki "$T/pki" --eid "$EID" >"$T/se-init.log" 2>&1
}

# ts_start_companion [SE_SPEC]
ts_start_companion() {
	local se=${1:-inproc:$T/se.state}
	"$TS_BIN/tapshare-companion" run --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --se "$se" \
		--link "sim:$T/link.sock" --name "Alice's watch" >>"$T/companion.log" 2>&1 &
	COMP_PID=$!
	PIDS+=("$COMP_PID")
	wait_log "$T/companion.log" "S1 advertising" 10
}

# ts_stop PID: SIGTERM a running program and require a clean exit (status 0:
# no crash, no sanitizer or leak report); a process that already died is only reaped.
ts_stop() {
	local st=0
	if kill -0 "$1" 2>/dev/null; then
		kill "$1" 2>/dev/null || true
		wait "$1" 2>/dev/null || st=$?
		if [ "$st" -ne 0 ]; then
			fail "process $1 exited with status $st on SIGTERM (crash or sanitizer report: see logs)"
		fi
	else
		wait "$1" 2>/dev/null || true
	fi
}

# primary CLI as alice (home $T/alice) or bob
alice() { "$TS_BIN/tapshare" --home "$T/alice" "$@"; }
bob() { TAPSHARE_PASSPHRASE="bob's passphrase 42" "$TS_BIN/tapshare" --home "$T/bob" "$@"; }

ts_enroll() {
	alice enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$ALICE_CODE" --name "Alice's phone" \
		>"$T/enroll.log" 2>&1
	bob enroll --node "$NODE_URL" --ca "$T/pki/node-ca.crt" --code "$BOB_CODE" --name "Bob's phone" \
		>>"$T/enroll.log" 2>&1
}

# ts_api_session: what the tests that speak the node's API with curl share: A
# (alice's home), CURL (trusting the node's CA), ACURL (with alice's device
# certificate) and TOKEN, the session token for her passphrase (checked).
ts_api_session() {
	A="$T/alice"
	CURL=(curl -sS --max-time 20 --cacert "$T/pki/node-ca.crt")
	ACURL=("${CURL[@]}" --cert "$A/device.crt" --key "$A/device.key")
	TOKEN=$("${ACURL[@]}" -X POST "$NODE_URL/v1/session" -H 'Content-Type: application/json' \
		-d "{\"passphrase\":\"$PASS\"}" | jq -r .token)
	expect "a session token for alice's passphrase" [ ${#TOKEN} -eq 64 ]
}

# ts_serve_se: tapshare-se serving $T/se.state in its own process over the
# vsmartcard vpcd framing on 127.0.0.1 (a free port: SE_PORT, SE_PID)
ts_serve_se() {
	local try
	for try in 1 2 3 4 5; do
		SE_PORT=$((20000 + RANDOM % 20000))
		"$TS_BIN/tapshare-se" serve --state "$T/se.state" --listen "127.0.0.1:$SE_PORT" --verbose >>"$T/se.log" 2>&1 &
		SE_PID=$!
		sleep 0.3
		kill -0 "$SE_PID" 2>/dev/null && break
	done
	PIDS+=("$SE_PID")
}

# ts_start_all [--bank] [--no-se | --no-companion | --se-serve] [SE_SPEC]: the
# provider, the node (alice's and bob's accounts and apps), the SE and the
# companion on it (SE_SPEC, default in process), both phones enrolled.
#   --bank          the second provider too (ts_start_bank), before the node starts
#   --no-se         neither SE nor companion (the phones only)
#   --no-companion  the SE's state but no companion (a standard LPA drives the SE)
#   --se-serve      the SE in its own process over vpcd (ts_serve_se), the companion on it
ts_start_all() {
	local bank=0 se=all
	while [ $# -gt 0 ]; do
		case $1 in
		--bank) bank=1 ;;
		--no-se) se=none ;;
		--no-companion) se=state ;;
		--se-serve) se=serve ;;
		*) break ;;
		esac
		shift
	done
	ts_pki
	ts_start_sp
	ts_init_node
	[ "$bank" = 1 ] && ts_start_bank
	ts_start_node
	if [ "$se" != none ]; then
		ts_init_se
		case $se in
		all) ts_start_companion "${1:-}" ;;
		serve) ts_serve_se && ts_start_companion "vpcd:127.0.0.1:$SE_PORT" ;;
		esac
	fi
	ts_enroll
}

# jdata: the data of the --json envelope on stdin (the last line: progress
# events come before it), compact; null for an error envelope
jdata() { tail -n1 | jq -c '.data'; }

# node_state SHARE_ID -> prints the share's state (admin view)
node_state() {
	"$TS_BIN/tapshare-node" shares --dir "$T/node" --json 2>/dev/null |
		jq -r --arg id "$1" '(.data | map(select(.share_id == $id)) | .[0].state) // "none"'
}
# wait_state SHARE_ID STATE SECONDS
wait_state() {
	local i=0
	while [ "$(node_state "$1")" != "$2" ]; do
		i=$((i + 1)); [ $i -gt $(($3 * 5)) ] && return 1; sleep 0.2
	done
}
