#!/usr/bin/env bash
# crashlib.sh — the crash walk (sourced by test_crash*.sh, after lib.sh's
# set-up it does itself): every flow of the node is run again and again with
# the node killed by SIGKILL right after its Nth durable commit
# (TAPSHARE_NODE_CRASH_AFTER=commit:N), N = 1, 2, ... until a run gets through
# without dying: so a crash falls once between every pair of writes of the
# flow (a commit and the next one, with whatever the node sends in between).
# After each crash the node is restarted, the primary retries its request
# with the same Idempotency-Key, and the flow must end exactly once: one
# share, one provider decision, the app once in (or gone from) the SE.
# Each flow's PREPARE / START / DONE / CHECK are defined here; the scripts
# walk them (test_crash: share, offer, outbox.answered; test_crash_cancel:
# cancel, expiry; test_crash_move: move release, bank-ID certification), so
# that each stays well inside its time limit on a loaded machine.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ts_start_all --bank

A="$T/alice"
ACURL=(curl -sS --max-time 10 --cacert "$T/pki/node-ca.crt" --cert "$A/device.crt" --key "$A/device.key")
TOKEN=$("${ACURL[@]}" -X POST "$NODE_URL/v1/session" -d "{\"passphrase\":\"$PASS\"}" | jq -r .token)
expect "session token" [ ${#TOKEN} -eq 64 ]

# restart_node [CRASH_AFTER]: same port, so the companion reconnects to it
# A node still armed may reach its crash point while it shuts down (its last
# writes): that SIGKILL (status 137) is one more crash, not a failure.
ARMED=0
restart_node() {
	if [ "$ARMED" = 1 ] && kill -0 "$NODE_PID" 2>/dev/null; then
		local st=0
		kill "$NODE_PID" 2>/dev/null || true
		wait "$NODE_PID" 2>/dev/null || st=$?
		[ "$st" = 0 ] || [ "$st" = 137 ] || fail "armed node $NODE_PID exited with status $st on SIGTERM"
	else
		ts_stop "$NODE_PID"
	fi
	sed -i "s/^listen = .*/listen = 127.0.0.1:$NODE_PORT/" "$T/node/node.ini"
	if [ -n "${1:-}" ]; then
		ARMED=1
		TAPSHARE_NODE_CRASH_AFTER=$1 ts_start_node
	else
		ARMED=0
		ts_start_node
	fi
}
node_alive() { kill -0 "$NODE_PID" 2>/dev/null; }
# api METHOD PATH KEY [BODY] -> response body (empty when the node died)
api() {
	"${ACURL[@]}" -X "$1" "$NODE_URL$2" -H "Authorization: Bearer $TOKEN" -H "Idempotency-Key: $3" \
		-H 'Content-Type: application/json' -d "${4:-{\}}" 2>/dev/null || true
}
shares_json() { "$TS_BIN/tapshare-node" shares --dir "$T/node" --json 2>/dev/null | jq .data; }
nshares() { shares_json | jq length; }
assoc_of() { shares_json | jq -r --arg id "$1" 'map(select(.share_id == $id)) | .[0].associated_app_id'; }
decisions() { # decisions DIR FUNCTION SHARE_ID -> how many the provider recorded
	"$TS_BIN/tapshare-sp" decisions --dir "$1" --json |
		jq --arg f "$2" --arg s "$3" '.data | map(select(.function == $f and .share_id == $s)) | length'
}
se_has() { # se_has ASSOC -> count of that app in the SE
	"$TS_BIN/tapshare-companion" status --se "inproc:$T/se.state" --json 2>/dev/null | jdata |
		jq --arg a "$1" '.apps | map(select(.app_id == $a)) | length'
}
# until_ok SECONDS CMD...: polls CMD until it succeeds
until_ok() {
	local n=$(($1 * 5)); shift
	while ! "$@" 2>/dev/null; do n=$((n - 1)); [ $n -le 0 ] && return 1; sleep 0.2; done
}
# crash_run N START DONE: runs START with the node set to die after commit N,
# waits until it died or DONE holds. 0 if the node died.
crash_run() {
	restart_node "commit:$1"
	"$2" "$1"
	local i
	for i in $(seq 150); do
		node_alive || break
		"$3" "$1" 2>/dev/null && break
		sleep 0.1
	done
	if node_alive; then return 1; fi
	wait "$NODE_PID" 2>/dev/null || true
	return 0
}
done_or_died() { ! node_alive || "$@"; } # done_or_died DONE N
# walk NAME PREPARE START DONE CHECK [FIRST [LAST]]: the crash walk of one
# flow, from its commit FIRST (default 1) to LAST (default: until it runs
# through without dying).
walk() {
	local name=$1 prepare=$2 start=$3 done=$4 check=$5 n=${6:-1} last=${7:-40} crashes=0
	restart_node
	while [ $n -le $last ]; do
		"$prepare" "$n" || { fail "$name: could not prepare run $n"; return; }
		if crash_run "$n" "$start" "$done"; then
			crashes=$((crashes + 1))
			restart_node
			"$start" "$n" # the primary retries (same Idempotency-Key)
		else
			# The armed node was alive when the flow ended (or the wait ran
			# out). It may still reach commit N afterwards: commits that are
			# not the flow's own count too (the companion re-authenticating
			# its push stream after each restart), and under load they fall
			# after the flow's. So wait for the end OR the node's death, then
			# restart it unarmed either way: a node that died on the way is
			# never left down while the flow waits for it.
			until_ok 30 done_or_died "$done" "$n" || true
			restart_node # disarm the crash before the check's own writes
		fi
		if ! until_ok 30 "$done" "$n"; then
			fail "$name: flow did not end after a crash at commit $n"
			return
		fi
		"$check" "$n" || { fail "$name: crash at commit $n: the flow did not end exactly once"; return; }
		[ "$crashes" -lt $((n - ${6:-1} + 1)) ] && break # ran through without dying: every boundary walked
		n=$((n + 1))
	done
	expect "$name: crashed after commit ${6:-1}..$((${6:-1} + crashes - 1)), ended exactly once every time" \
		[ "$crashes" -ge 2 ]
	echo "# $name walked: $((SECONDS - WALK_T0)) s (load $(cut -d' ' -f1 /proc/loadavg))"
	WALK_T0=$SECONDS
}
WALK_T0=$SECONDS

# ---- share (S11..S15) ------------------------------------------------------
before=0
noop() { before=$(nshares); }
share_start() { SH=$(api POST /v1/shares "share-$1" "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}" | jq -r '.share_id // empty'); }
share_done() { [ -n "${SH:-}" ] && [ "$(node_state "$SH")" = installed ]; }
share_check() { # one read of the shares for both the count and the app
	local j a
	j=$(shares_json)
	a=$(jq -r --arg id "$SH" 'map(select(.share_id == $id)) | .[0].associated_app_id' <<<"$j")
	[ "$(jq length <<<"$j")" = $((before + 1)) ] && [ "$(decisions "$T/sp" confirmOrder "$SH")" = 1 ] &&
		[ "$(se_has "$a")" = 1 ]
}

# ---- cancel (S16, S17) -----------------------------------------------------
cancel_prepare() { # an installed share to cancel, made without crashes
	SH=$(api POST /v1/shares "for-cancel-$1" "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}" | jq -r .share_id)
	until_ok 30 share_done x
}
cancel_start() { api POST "/v1/shares/$SH/cancel" "cancel-$1" >/dev/null; }
cancel_done() { [ "$(node_state "$SH")" = revoked ]; }
cancel_check() {
	local a; a=$(assoc_of "$SH")
	[ "$(decisions "$T/sp" cancelOrder "$SH")" = 1 ] && [ "$(se_has "$a")" = 0 ]
}

# ---- expiry (the node's own tick) -------------------------------------------
expiry_prepare() {
	SH=$(api POST /v1/shares "for-expiry-$1" "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\",\"duration_s\":5}" |
		jq -r .share_id)
	until_ok 30 share_done x
}
expiry_start() { :; }
expiry_done() { [ "$(node_state "$SH")" = expired ] && [ "$(se_has "$(assoc_of "$SH")")" = 0 ]; }
expiry_check() { [ "$(decisions "$T/sp" cancelOrder "$SH")" = 1 ]; }

# ---- offer (claims 20/33): the companion brings the primary's offer ---------
offer_prepare() { alice offer --app sim-alice --print-offer "$T/offer-$1.b64" --eid "$EID" >/dev/null; before=$(nshares); }
offer_start() {
	SH=$(curl -sS --max-time 10 --cacert "$T/pki/node-ca.crt" -X POST "$NODE_URL/v1/companion/offers" \
		-H 'Content-Type: application/json' \
		-d "{\"eid\":\"$EID\",\"offer\":\"$(tr -d '\n' <"$T/offer-$1.b64")\"}" 2>/dev/null |
		jq -r '.share_id // empty' 2>/dev/null || true)
	# after a crash the companion's retry of a used offer is refused: find the share
	[ -n "$SH" ] || SH=$(shares_json | jq -r --argjson b "$before" 'if length > $b then .[-1].share_id else empty end')
}
# (after the redemption the offer's share runs the share flow: share_done, share_check)

# ---- move: release of the original after S15 ---------------------------------
move_prepare() {
	"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id "sim-move-$1" --name "Move $1" \
		--kind sim --provider operator 2>>"$T/node-init.log"
	SH=$(api POST /v1/shares "for-move-$1" "{\"eid\":\"$EID\",\"app_id\":\"sim-move-$1\",\"operation\":\"move\"}" |
		jq -r .share_id)
	until_ok 30 share_done x
}
move_start() { api POST "/v1/apps/sim-move-$1/release" "release-$1" "{\"share_id\":\"$SH\"}" >/dev/null; }
moved() { # from the database, as every other flow's end: it needs no live node
	"$TS_BIN/tapshare-node" app show "sim-move-$1" --dir "$T/node" --json 2>/dev/null |
		jq -e '.data.state == "moved"' >/dev/null
}
move_done() { moved "$1" && [ "$(decisions "$T/sp" cancelOrder "$SH")" -ge 1 ]; }
move_check() { [ "$(decisions "$T/sp" cancelOrder "$SH")" = 1 ]; }

# ---- bank-ID: install, the bank certifies the SE's key, the SE enables it ----
bank_prepare() { before=$(nshares); }
bank_start() { SH=$(api POST /v1/shares "bank-$1" "{\"eid\":\"$EID\",\"app_id\":\"bankid-alice\"}" | jq -r '.share_id // empty'); }
bank_done() {
	[ -n "${SH:-}" ] && "$TS_BIN/tapshare-companion" status --se "inproc:$T/se.state" --json 2>/dev/null | jdata |
		jq -e --arg a "$(assoc_of "$SH")" '.apps | map(select(.app_id == $a and .enabled and .key_certified)) | length == 1' \
		>/dev/null
}
one_certified() { [ "$(certified_events)" = 1 ]; }
certified_events() { # share.certified events the primary gets for SH
	"${ACURL[@]}" -N --max-time 1 "$NODE_URL/v1/events?share=$SH&after=0" 2>/dev/null |
		grep -c '^event: share.certified' || true
}
bank_check() {
	local a; a=$(assoc_of "$SH")
	[ "$(nshares)" = $((before + 1)) ] && [ "$(decisions "$T/bank" confirmOrder "$SH")" = 1 ] &&
		[ "$(decisions "$T/bank" certifyKey "$SH")" = 1 ] && [ "$(se_has "$a")" = 1 ] &&
		until_ok 20 one_certified
}
cancel_bank() { # keep the SE from filling up: one bank-ID copy at a time
	api POST "/v1/shares/$SH/cancel" "bank-cancel-$1" >/dev/null
	until_ok 30 cancel_done x
}
bank_check_and_cancel() { bank_check "$1" && cancel_bank "$1"; }

