#!/usr/bin/env bash
# A time-limited share expires on the node's own clock: with the companion
# offline (so nothing but the node's expiry tick can end it) the node revokes
# the grant, tells the provider (cancelOrder) and queues a delete; when the
# companion comes back its SE deletes the app.
. "$(dirname "$0")/lib.sh"
ts_start_all

se_apps() { "$TS_BIN/tapshare-companion" status --se "inproc:$T/se.state" --json 2>/dev/null | jq '.data | .apps | length'; }
cancel_orders() { "$TS_BIN/tapshare-sp" decisions --dir "$T/sp" --json | jq '.data | map(select(.function == "cancelOrder")) | length'; }
# until_eq SECONDS WANT CMD...: polls CMD's output until it is WANT
until_eq() {
	local n=$(($1 * 5)) want=$2
	shift 2
	while [ "$("$@")" != "$want" ]; do n=$((n - 1)); [ $n -le 0 ] && return 1; sleep 0.2; done
}

# The case needs the share installed and the companion offline before
# not_after, which counts from the provider's grant: a loaded machine may take
# longer than the duration for the download and the companion's stop. Such a
# round shows nothing (the expiry came with the companion online) and is made
# again with twice the duration (4, 8, 16, 32 s); the checks stay the same.
dur=4 SEEN=""
while :; do
	c0=$(cancel_orders)
	alice share --link "sim:$T/link.sock" --app sim-alice --duration "$dur" --timeout 60 >"$T/share.out" 2>&1 ||
		{ cat "$T/share.out"; fail "time-limited share installs"; }
	ts_stop "$COMP_PID"
	SHARE=$(alice shares --json | jq -r --arg seen "$SEEN" \
		'.data.shares | map(select(.share_id as $i | $seen | split(" ") | index($i) == null)) | .[0].share_id')
	SEEN="$SEEN $SHARE"
	if [ "$(node_state "$SHARE")" = installed ]; then # still installed with the companion gone
		ok "installed, and still installed once the companion was offline ($dur s share)"
		break
	fi
	[ "$dur" -ge 32 ] && { fail "a share of $dur s expired before the companion could be stopped"; ts_done; exit 1; }
	echo "# share $SHARE of $dur s expired before the companion was stopped (load $(cut -d' ' -f1 /proc/loadavg)): again"
	ts_start_companion # it deletes that app, then the next round
	until_eq 30 0 se_apps || { fail "the SE deletes the round's expired app"; ts_done; exit 1; }
	dur=$((dur * 2))
done
NA=$(alice shares --json | jq -r --arg s "$SHARE" '.data.shares[] | select(.share_id == $s) | .not_after')
expect "not_after set" [ "$NA" -gt 0 ]

expect "expires on the node with the companion offline" wait_state "$SHARE" expired $((dur + 20))
expect "... by the node's expiry tick" grep -q "S16 share $SHARE expired (not_after $NA)" "$T/node.log"
expect "provider told (cancelOrder) with the companion offline" until_eq 10 $((c0 + 1)) cancel_orders
expect "the SE still holds the app while the companion is offline" [ "$(se_apps)" = 1 ]

ts_start_companion
expect "SE deletes the expired app once the companion is back" until_eq 10 0 se_apps
expect "still expired, provider told once" bash -c "[ '$(node_state "$SHARE")' = expired ] && [ '$(cancel_orders)' = $((c0 + 1)) ]"
ts_done
