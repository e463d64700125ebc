#!/usr/bin/env bash
# Push O(1) per event (issue 9): an event wakes only its own user's / EID's
# streams (another user's idle streams are not even read back from the
# store: tapshare_event_stream_reads_total), a primary stream without
# Last-Event-ID starts from now (no history), ?after=0 replays, the stream
# cap ([limits] max_streams) refuses with 503 and closes the connection, and
# at the descriptor limit (ulimit -n 64) the node neither spins nor floods
# its log, and serves again once the connections are gone.
. "$(dirname "$0")/lib.sh"
ts_pki
ts_start_sp
ts_init_node
BOBS=30
sed -i 's/^log_level = info/log_level = info\nadmin_listen = 127.0.0.1:0/' "$T/node/node.ini"
printf '[limits]\nmax_streams = %d\n' $((BOBS + 4)) >>"$T/node/node.ini"
ts_start_node
wait_file "$T/node/admin.port" 10
ADMIN="http://127.0.0.1:$(cat "$T/node/admin.port")"
ts_init_se
ts_start_companion
ts_enroll
CURL=(curl -sS --cacert "$T/pki/node-ca.crt")
ACURL=("${CURL[@]}" --cert "$T/alice/device.crt" --key "$T/alice/device.key")
BCURL=("${CURL[@]}" --cert "$T/bob/device.crt" --key "$T/bob/device.key")
metric() { curl -s "$ADMIN/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
streams_open() { [ "$(metric tapshare_event_streams)" -ge "$1" ]; }
wait_streams() {
	local i=0
	until streams_open "$1"; do i=$((i + 1)); [ $i -gt 100 ] && return 1; sleep 0.1; done
}

expect "a first share completes (alice has a history)" \
	alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60

# Replay bounded: no Last-Event-ID -> from now; ?after=0 -> the history.
"${ACURL[@]}" -N --max-time 3 "$NODE_URL/v1/events" >"$T/now.out" 2>/dev/null || true
expect "a stream without Last-Event-ID opens" grep -q "stream open" "$T/now.out"
expect_fail "and replays none of the history" grep -q "^event:" "$T/now.out"
"${ACURL[@]}" -N --max-time 3 "$NODE_URL/v1/events?after=0" >"$T/all.out" 2>/dev/null || true
expect "?after=0 replays the history" grep -q "^event: share.installed" "$T/all.out"
LAST=$(sed -n 's/^id: //p' "$T/all.out" | tail -1)
"${ACURL[@]}" -N --max-time 3 -H "Last-Event-ID: $((LAST - 1))" "$NODE_URL/v1/events" >"$T/lei.out" 2>/dev/null || true
expect "Last-Event-ID replays only what follows it" \
	[ "$(grep -c '^event:' "$T/lei.out")" = 1 ]

# Idle streams of another user: BOBS of bob's, one of alice's (from now).
for ((i = 0; i < BOBS; i++)); do
	"${BCURL[@]}" -N --max-time 60 "$NODE_URL/v1/events" >"$T/bob-$i.out" 2>/dev/null &
	PIDS+=($!)
done
"${ACURL[@]}" -N --max-time 60 "$NODE_URL/v1/events" >"$T/alice-live.out" 2>/dev/null &
PIDS+=($!)
expect "all $((BOBS + 2)) streams are open (bob's, alice's, the companion's)" wait_streams $((BOBS + 2))
R0=$(metric tapshare_event_stream_reads_total)
expect "a second share completes with the idle streams open" \
	alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60
i=0
until grep -q "^event: share.installed" "$T/alice-live.out" || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
R1=$(metric tapshare_event_stream_reads_total)
expect "alice's live stream got the share's events" grep -q "^event: share.installed" "$T/alice-live.out"
expect "and nothing older (from now)" [ "$(grep -c '^event: share.installed' "$T/alice-live.out")" = 1 ]
got=0
for ((i = 0; i < BOBS; i++)); do grep -q "^event:" "$T/bob-$i.out" && got=$((got + 1)); done
expect "none of bob's $BOBS streams got an event" [ "$got" = 0 ]
# Every commit of the flow wakes alice's 1 stream or the companion's: a few
# reads in all. Waking every stream would read bob's $BOBS at each commit.
expect "the flow read back $((R1 - R0)) streams, fewer than bob's $BOBS idle ones" [ $((R1 - R0)) -lt "$BOBS" ]

# The cap: max_streams = BOBS + 4 (BOBS + 2 open): two more fit, then 503.
"${ACURL[@]}" -N --max-time 20 "$NODE_URL/v1/events" >/dev/null 2>&1 &
PIDS+=($!)
"${ACURL[@]}" -N --max-time 20 "$NODE_URL/v1/events" >/dev/null 2>&1 &
PIDS+=($!)
wait_streams $((BOBS + 4)) || true
r=$("${ACURL[@]}" --max-time 5 -D "$T/cap.h" -w '\n%{http_code}' "$NODE_URL/v1/events" 2>/dev/null || true)
expect "one stream over max_streams is refused: 503 too_many_streams" \
	[ "$(tail -1 <<<"$r")" = 503 -a -n "$(grep too_many_streams <<<"$r")" ]
expect "and its connection is closed (Connection: close)" grep -qi '^Connection: close' "$T/cap.h"
expect "the refusal is logged once, not per stream" [ "$(grep -c 'refused .* stream' "$T/node.log")" -le 1 ]
for p in "${PIDS[@]}"; do [ "$p" = "$NODE_PID" ] || [ "$p" = "$SP_PID" ] || [ "$p" = "$COMP_PID" ] || kill "$p" 2>/dev/null || true; done

# The descriptor limit: a node run with ulimit -n 64, flooded with 100 TCP
# connections held open (more than it has descriptors for).
ts_stop "$COMP_PID"
ts_stop "$NODE_PID"
rm -f "$T/node/node.port"
sed -i '/^\[limits\]/,$d' "$T/node/node.ini" # the default cap: from the fd limit
: >"$T/node-fd.log"
(ulimit -n 64 && exec "$TS_BIN/tapshare-node" run --dir "$T/node" >>"$T/node-fd.log" 2>&1) &
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_file "$T/node/node.port" 10
NODE_URL="https://127.0.0.1:$(cat "$T/node/node.port")"
expect "the node serves with 64 descriptors" \
	[ "$("${ACURL[@]}" --max-time 5 -o /dev/null -w '%{http_code}' "$NODE_URL/v1/apps")" = 200 ]
expect "its stream cap follows the descriptor limit" grep -q "event streams: at most 16 per process" "$T/node-fd.log"
port=$(cat "$T/node/node.port")
FDS=()
for ((i = 0; i < 100; i++)); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$port" || break
	FDS+=("$fd")
done
sleep 1
cpu() { awk '{print $14 + $15}' "/proc/$NODE_PID/stat"; }
c0=$(cpu)
sleep 2
c1=$(cpu)
expect "at the fd limit the node does not spin ($((c1 - c0)) ticks of CPU in 2 s)" [ $((c1 - c0)) -lt 40 ]
n=$(grep -c "accept failed" "$T/node-fd.log" || true)
expect "accept failures are logged at most once per 10 s ($n lines)" [ "$n" -ge 1 -a "$n" -le 2 ]
for fd in "${FDS[@]}"; do exec {fd}>&-; done
sleep 1
expect "the node serves again once the connections are gone" \
	[ "$("${ACURL[@]}" --max-time 10 -o /dev/null -w '%{http_code}' "$NODE_URL/v1/apps")" = 200 ]
ts_stop "$NODE_PID"
ts_done
