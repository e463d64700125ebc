#!/usr/bin/env bash
# The primary's view (issue 3): `tapshare watch` prints the events of the
# user's shares as they happen — installed, expired (time limit), cancelled
# and revoked — and none from before it started; `tapshare shares` shows
# state, expiry and device of every share, `--active` hides the final ones.
. "$(dirname "$0")/lib.sh"
ts_start_all

DEV=$(sed -n 's/^device_id = //p' "$T/alice/primary.ini")
expect "alice's device id known" [ ${#DEV} -eq 64 ]

# History: a share installed before watch starts; its events must not show.
H=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 30 --json 2>"$T/share-h.err" | jdata |
	jq -r '.share.share_id')
expect "history share installed" [ "$(node_state "$H")" = installed ]

# Started directly, not through the alice function, so that $! is tapshare's own PID.
"$TS_BIN/tapshare" --home "$T/alice" watch --timeout 25 >"$T/watch.out" 2>"$T/watch.log" &
WATCH_PID=$!
sleep 2 # let watch skip the stored history (its scan ends after 1.5 s of quiet)

# A time-limited share that expires on its own.
B=$(alice share --link "sim:$T/link.sock" --app sim-alice --duration 4 --timeout 30 --json 2>"$T/share-b.err" | jdata |
	jq -r '.share.share_id')
expect "time-limited share installed" [ "$(node_state "$B")" = installed ]
# The companion goes offline first: its SE would delete the app at not_after
# on its own, racing the node's 1 s expiry tick (the node then records a
# deletion, "revoked"); offline, the expiry is the node's, deterministically.
ts_stop "$COMP_PID"
expect "it expires" wait_state "$B" expired 20
mv "$T/companion.log" "$T/companion-1.log"
ts_start_companion

# Another share, cancelled by the user.
C=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 30 --json 2>"$T/share-c.err" | jdata |
	jq -r '.share.share_id')
expect "second share installed" [ "$(node_state "$C")" = installed ]
expect "cancel completes" alice cancel "$C" --timeout 30
expect "cancelled share revoked" [ "$(node_state "$C")" = revoked ]
# The expired share's deletion from the companion is one more event.
wait_log "$T/watch.out" "^[0-9: -]+  ${B:0:8}  .*expired share deleted" 10 || true

st=0
wait "$WATCH_PID" || st=$?
expect "watch ends at --timeout with status 0" [ "$st" -eq 0 ]
cat "$T/watch.out"

line() { grep -cE "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}  $1  sim-alice -> [^ ]+ on $EID  $2" "$T/watch.out" || true; }
expect "installed shown once (time-limited)" [ "$(line "${B:0:8}" "installed, second confirmation \\(installed in the companion\\)")" = 1 ]
expect "expiry shown with its reason" [ "$(line "${B:0:8}" "expired: time limit reached \(time limit reached: grant expired\)")" = 1 ]
expect "installed shown once (cancelled)" [ "$(line "${C:0:8}" "installed, second confirmation \\(installed in the companion\\)")" = 1 ]
expect "cancellation shown" [ "$(line "${C:0:8}" "cancelled: waiting for the companion to delete it \(cancelled by the user")" = 1 ]
expect "revocation shown" [ "$(line "${C:0:8}" "revoked \(deleted from the companion\)")" = 1 ]
expect "no event from before watch started" [ "$(grep -c "  ${H:0:8}  " "$T/watch.out" || true)" = 0 ]
nth() { grep -nE "  ${C:0:8}  .*  $1" "$T/watch.out" | head -1 | cut -d: -f1; }
in_order() { [ "$(nth installed)" -lt "$(nth cancelled)" ] && [ "$(nth cancelled)" -lt "$(nth 'revoked \(')" ]; }
expect "events in order: installed, cancelled, revoked" in_order

# shares: every share with state, expiry and device; --active hides the final ones.
all=$(alice shares)
echo "$all"
expect "shares lists the expired share" grep -qE "^$B +expired +sim-alice +$EID +[^ ]+ +${DEV:0:8} +20[0-9-]+T" <<<"$all"
expect "shares lists the revoked share" grep -qE "^$C +revoked +sim-alice +$EID +[^ ]+ +${DEV:0:8} +[0-9-]+T" <<<"$all"
expect "shares lists the installed share" grep -qE "^$H +installed " <<<"$all"
expect "DEVICE and NOT_AFTER columns" grep -qE "^SHARE_ID +STATE +APP_ID +EID +ASSOCIATED +DEVICE +NOT_AFTER +UPDATED$" <<<"$all"
act=$(alice shares --active)
echo "$act"
expect "--active keeps the installed share" grep -qE "^$H +installed " <<<"$act"
expect_fail "--active hides the expired share" grep -q "$B" <<<"$act"
expect_fail "--active hides the revoked share" grep -q "$C" <<<"$act"
expect "--active --json has only the installed share" \
	[ "$(alice shares --active --json | jq -c '.data | [.shares[].share_id]')" = "[\"$H\"]" ]

# --all replays the history (NDJSON); SIGTERM ends watch cleanly (status 0).
"$TS_BIN/tapshare" --home "$T/alice" watch --all --json --share "$B" >"$T/watch-all.out" 2>>"$T/watch.log" &
WATCH2_PID=$!
wait_log "$T/watch-all.out" '"event":"share.expired"' 10 || true
# the progress events (NDJSON, {"schema":1,"event":{...}}); the envelope ends it
jq -c 'select(has("event")) | .event' "$T/watch-all.out" >"$T/watch-all.ev"
kill -TERM "$WATCH2_PID"
st=0
wait "$WATCH2_PID" || st=$?
expect "watch ends on SIGTERM with status 0" [ "$st" -eq 0 ]
expect "--all --share replays the share's history as NDJSON" \
	[ "$(jq -r '.event' "$T/watch-all.ev" | head -3 | tr '\n' ' ')" = "share.eid_confirmed share.authorised share.delivered " ]
expect "--share: only that share" [ "$(jq -r '.share_id' "$T/watch-all.ev" | sort -u)" = "$B" ]
expect "NDJSON: one object per line, each with schema 1" [ "$(jq -c 'select(.schema == 1)' "$T/watch-all.out" | wc -l)" = "$(wc -l <"$T/watch-all.out")" ]
expect "event ids are numbers" jq -e -s 'all(.[]; (.id | type) == "number")' "$T/watch-all.ev"
ts_done
