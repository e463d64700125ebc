#!/usr/bin/env bash
# make demo: a throw-away test PKI and SQLite databases in a temporary
# directory; node, provider, secure element (own process, vpcd framing) and
# companion on 127.0.0.1; the whole flow run with the real CLIs. Prints one line
# per patent step performed, starting with the step's label; stops everything
# by PID; exits 0 only if every step succeeded.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
TS_BIN=$(cd "$ROOT/$BUILD" && pwd)
export TS_BIN
# lib.sh gives the set-up helpers; its checks are reused for the demo's steps.
. "$ROOT/tests/integration/lib.sh"

say() { printf '%s\n' "$*"; }
# step_lines FILE REGEX: the log lines of FILE matching REGEX, from the step label on
step_lines() { grep -E "$2" "$1" | sed -E 's/^[^ ]+ [^ ]+ [A-Z]+ //' || true; }
need() { # need DESC CMD... : a step that must succeed
	local d=$1
	shift
	if "$@"; then :; else say "FAILED: $d"; FAILS=$((FAILS + 1)); exit 1; fi
}

say "tapshare demo — everything runs on 127.0.0.1 in $T"
say "-- setting up: test PKI, operator and bank providers, node, secure elements, companion, primary enrollment"
# Shared copies last at most a day; a move is a transfer, which the operator does not time-limit.
SP_POLICY='[default]
decision = approve
max_duration_s = 86400'
ts_pki
ts_start_sp
ts_init_node
ts_start_bank
ts_start_node
# The phone's own secure element, personalised with Alice's subscription (for the move).
"$TS_BIN/tapshare-se" init --state "$T/phone.state" --pki "$T/pki" --eid "$EID2" \
	--preinstall sim-alice --kind sim --provider operator --name "Alice mobile" >"$T/phone-se.log" 2>&1
ts_init_se
SE_PORT=0
for try in 1 2 3 4 5; do
	SE_PORT=$((20000 + RANDOM % 20000))
	"$TS_BIN/tapshare-se" serve --state "$T/se.state" --listen "127.0.0.1:$SE_PORT" >>"$T/se.log" 2>&1 &
	SE_PID=$!
	sleep 0.3
	kill -0 "$SE_PID" 2>/dev/null && break
done
PIDS+=("$SE_PID")
ts_start_companion "vpcd:127.0.0.1:$SE_PORT"
ts_enroll
say "   node $NODE_URL, provider https://127.0.0.1:$SP_PORT, SE vpcd 127.0.0.1:$SE_PORT, companion EID $EID"
say ""
say "-- share: Alice taps her watch with her phone"
mark_node=$(wc -l <"$T/node.log")
mark_comp=$(wc -l <"$T/companion.log")
if ! alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 >"$T/share.out" 2>&1; then
	cat "$T/share.out"; say "FAILED: share"; exit 1
fi
tail -n +"$((mark_node + 1))" "$T/node.log" >"$T/node.share.log"
tail -n +"$((mark_comp + 1))" "$T/companion.log" >"$T/comp.share.log"
step_lines "$T/companion.log" ' S1 advertising' | head -n1
grep -E '^S(1|2|3|4) ' "$T/share.out"
step_lines "$T/node.share.log" ' S1[12] '
grep -E '^S5 ' "$T/share.out"
step_lines "$T/node.share.log" ' S1[34] '
step_lines "$T/comp.share.log" ' S1[45] '
step_lines "$T/node.share.log" ' S15 '
grep -E '^S6 ' "$T/share.out"
need "S6 second confirmation" grep -q '^S6 ' "$T/share.out"
SHARE=$(alice shares --json | jq -r '.data | .shares[0].share_id')
say ""
say "-- Alice's view of her shares (tapshare shares)"
alice shares 2>/dev/null || true
say ""
say "-- cancel: Alice withdraws the share from her phone"
mark_node=$(wc -l <"$T/node.log")
mark_comp=$(wc -l <"$T/companion.log")
if ! alice cancel "$SHARE" --timeout 60 >"$T/cancel.out" 2>&1; then
	cat "$T/cancel.out"; say "FAILED: cancel"; exit 1
fi
wait_log "$T/node.log" "S16 provider .* told" 10 || true
tail -n +"$((mark_node + 1))" "$T/node.log" >"$T/node.cancel.log"
tail -n +"$((mark_comp + 1))" "$T/companion.log" >"$T/comp.cancel.log"
grep -E '^S7' "$T/cancel.out" || true
step_lines "$T/node.cancel.log" ' S16 '
step_lines "$T/comp.cancel.log" ' S17 '
step_lines "$T/node.cancel.log" ' S17 '
grep -E '^S8' "$T/cancel.out" || true
need "share revoked" [ "$(node_state "$SHARE")" = revoked ]

# run_cli LABEL CMD...: runs a CLI step, prints its step lines, fails the demo if it fails
run_cli() {
	local label=$1
	shift
	if ! "$@" >"$T/step.out" 2>&1; then
		cat "$T/step.out"; say "FAILED: $label"; exit 1
	fi
	grep -E '^(S[0-9]+|M[0-9]+|note)' "$T/step.out" || true
}
say ""
say "-- three kinds of security application, two providers (the node as broker)"
say "   bank-ID credential from the bank:"
run_cli "share bankid-alice" alice share --link "sim:$T/link.sock" --app bankid-alice --timeout 60
say "   service credential from the operator:"
run_cli "share svc-parking" alice share --link "sim:$T/link.sock" --app svc-parking --timeout 60
say ""
say "-- companion-initiated sharing (claims 20/33): the phone hands the watch a signed offer"
mark_node=$(wc -l <"$T/node.log")
mark_comp=$(wc -l <"$T/companion.log")
run_cli "offer" alice offer --app svc-parking --link "sim:$T/link.sock" --timeout 60 >"$T/offer.lines"
grep -E '^S1 ' "$T/offer.lines" || true
step_lines <(tail -n +"$((mark_comp + 1))" "$T/companion.log") ' S4 '
step_lines <(tail -n +"$((mark_node + 1))" "$T/node.log") ' S1[12] '
step_lines <(tail -n +"$((mark_comp + 1))" "$T/companion.log") ' S5 '
step_lines <(tail -n +"$((mark_node + 1))" "$T/node.log") ' S1[345] '
grep -E '^S[56] ' "$T/offer.lines" || true
say ""
say "-- move: Alice moves her subscription from the phone's own secure element to the watch"
run_cli "move" alice --se "inproc:$T/phone.state" move sim-alice --link "sim:$T/link.sock" --timeout 60
say ""
say "-- Alice's shares now"
alice shares 2>/dev/null || true
say ""
say "demo complete: every step succeeded"
