#!/usr/bin/env bash
# The same flow with the secure element in its own process (tapshare-se),
# reached over the vsmartcard vpcd framing on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
ts_pki
ts_start_sp
ts_init_node
ts_start_node
ts_init_se
for try in 1 2 3 4 5; do
	SE_PORT=$((20000 + RANDOM % 20000))
	"$TS_BIN/tapshare-se" serve --state "$T/se.state" --listen "127.0.0.1:$SE_PORT" --verbose >>"$T/se.log" 2>&1 &
	SE_PID=$!
	sleep 0.3
	kill -0 "$SE_PID" 2>/dev/null && break
done
PIDS+=("$SE_PID")
ts_start_companion "vpcd:127.0.0.1:$SE_PORT"
ts_enroll
out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share over vpcd completes"; }
expect "S6 second confirmation over vpcd" grep -q "S6 second confirmation" <<<"$out"
SHARE=$(alice shares --json | jq -r '.shares[0].share_id')
expect "installed" [ "$(node_state "$SHARE")" = installed ]
ts_stop "$COMP_PID"
# The card's log of every APDU (serve --verbose): the companion worked as an
# SGP.22 LPA on a logical channel (MANAGE CHANNEL, channel 1 in the CLA).
expect "the companion opened a logical channel (00 70 00 00 01, channel number back)" \
	grep -qi "APDU 00 70 00 00 (5 bytes) -> SW 9000 (3 bytes)" "$T/se.log"
expect "selected the ISD-R on channel 1 (01 A4 04 00)" grep -qi "APDU 01 a4 04 00 (22 bytes) -> SW 9000" "$T/se.log"
expect "ES10 STORE DATA on channel 1 (CLA 81)" grep -qi "APDU 81 e2 91 00" "$T/se.log"
expect_fail "no STORE DATA on the basic channel (CLA 80)" grep -qi "APDU 80 e2" "$T/se.log"
expect "the channel was closed when the companion stopped (01 70 80 01)" \
	grep -qi "APDU 01 70 80 01 (4 bytes) -> SW 9000" "$T/se.log"
expect "tapshare-se status shows the app" bash -c "'$TS_BIN/tapshare-se' status --state '$T/se.state' --json | grep -q sim-"
ts_done
