#!/usr/bin/env bash
# The same flow with the companion's secure element reached through PC/SC:
# tapshare-se behind pcscd + vsmartcard's vpcd driver, on 127.0.0.1 only.
#
# vpcd with DEVICENAME 127.0.0.1:0x8C7B connects out to the card on fixed
# ports 35963 (slot 0) and 35964 (slot 1), and pcscd aborts if a slot's port
# is closed, so both are served: slot 0 by the companion's SE, slot 1 by a
# second SE (EID2) that lets us check reader selection by name. The fixed
# ports mean two runs of this test cannot overlap (ctest's RESOURCE_LOCK
# integration_ports serialises integration tests).
#
# Isolation from any pcscd of the host (docs/pcsc.md): pcscd 1.9 has its
# client socket compiled in (/run/pcscd/pcscd.comm) and ignores
# PCSCLITE_CSOCK_NAME, but accepts a socket passed by systemd socket
# activation; systemd-socket-activate creates it in $T and our clients find it
# through PCSCLITE_CSOCK_NAME (honoured by libpcsclite). pcscd still writes
# /run/pcscd/pcscd.pid, so it runs in a private mount namespace with its own
# /run, and with the USB driver bundles hidden so it never claims a real reader.
. "$(dirname "$0")/lib.sh"
PATH="$PATH:/usr/sbin:/sbin" # pcscd lives in sbin

VPCD_LIB=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
PCSC_DRIVERS=/usr/lib/pcsc/drivers
READER="tapshare-it vpcd"

need() { echo "FAIL - $1 (scripts/bootstrap.sh installs it)"; exit 1; }
command -v pcscd >/dev/null || need "pcscd not installed (Debian package pcscd)"
[ -f "$VPCD_LIB" ] || need "vpcd driver $VPCD_LIB not installed (Debian package vsmartcard-vpcd)"
command -v systemd-socket-activate >/dev/null ||
	need "systemd-socket-activate not installed (Debian package systemd)"

# pcscd_launch: the command prefix that gives pcscd a private /run (and no USB
# drivers), or nothing when mount namespaces are unavailable.
NS=()
if unshare -m --propagation private true 2>/dev/null; then
	NS=(unshare -m --propagation private)
elif unshare -r -m --propagation private true 2>/dev/null; then
	NS=(unshare -r -m --propagation private)
elif [ -e /run/pcscd/pcscd.pid ]; then
	need "a system pcscd is running and mount namespaces are unavailable (unshare -m): its /run/pcscd/pcscd.pid would be overwritten"
fi

ts_pki
ts_init_se
"$TS_BIN/tapshare-se" init --state "$T/se2.state" --pki "$T/pki" --eid "$EID2" >>"$T/se-init.log" 2>&1

# start_se STATE PORT NAME VAR: the vpcd ports are fixed, and the kernel may
# hand one out briefly as the local port of some other connection on this
# machine (they lie in the ephemeral range), so a busy port is retried for a
# while before the test gives up. The SEs start before anything else of this
# test opens connections.
start_se() {
	local pid try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		"$TS_BIN/tapshare-se" serve --state "$1" --listen "127.0.0.1:$2" >>"$T/$3.log" 2>&1 &
		pid=$!
		if wait_log "$T/$3.log" "listening on 127.0.0.1:$2" 3; then
			PIDS+=("$pid")
			eval "$4=$pid"
			return 0
		fi
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		sleep 2
	done
	echo "FAIL - tapshare-se cannot listen on 127.0.0.1:$2 (port in use? vpcd needs 35963 and 35964)"
	exit 1
}
start_se "$T/se.state" 35963 se SE_PID
start_se "$T/se2.state" 35964 se2 SE2_PID
ts_start_sp
ts_init_node
ts_start_node

cat >"$T/reader.conf" <<EOF
FRIENDLYNAME "$READER"
DEVICENAME   127.0.0.1:0x8C7B
LIBPATH      $VPCD_LIB
CHANNELID    0x8C7B
EOF
export PCSCLITE_CSOCK_NAME="$T/pcscd.comm"

comp_status() { "$TS_BIN/tapshare-companion" status --se "$1" --json 2>>"$T/status.log" | jdata; }

# Before pcscd exists: a clear error, not a hang.
err=$("$TS_BIN/tapshare-companion" status --se pcsc: 2>&1) && fail "status without pcscd fails" ||
	expect "status without pcscd says so" grep -q "pcscd not running" <<<"$err"

# pcscd stops before the cards (vpcd aborts pcscd when a card's port closes)
# and before lib.sh's clean-up; SIGTERM makes pcscd 1.9 exit with status 1.
PCSCD_PID=
stop_pcscd() {
	[ -n "$PCSCD_PID" ] || return 0
	local st=0
	kill "$PCSCD_PID" 2>/dev/null || true
	wait "$PCSCD_PID" 2>/dev/null || st=$?
	PCSCD_PID=
	[ "$st" -le 1 ] || fail "pcscd exited with status $st on SIGTERM (see pcscd.log)"
}
pcsc_cleanup() {
	local rc=$?
	set +e # (exit $rc) below must not end the trap early
	[ -n "${COMP_PID:-}" ] && ts_stop "$COMP_PID"
	stop_pcscd
	(exit $rc)
	ts_cleanup
}
trap pcsc_cleanup EXIT

# systemd-socket-activate listens on $T/pcscd.comm and execs pcscd (same PID)
# at the first connection, passing the socket as fd 3.
hide_usb=""
for b in "$PCSC_DRIVERS"/*.bundle; do
	[ -d "$b" ] && hide_usb="$hide_usb mount -t tmpfs tmpfs '$b' &&"
done
pcscd_cmd="exec systemd-socket-activate -l '$T/pcscd.comm' pcscd --foreground --debug --apdu -c '$T/reader.conf'"
if [ ${#NS[@]} -gt 0 ]; then
	"${NS[@]}" sh -c "mount -t tmpfs -o mode=0755 tmpfs /run && $hide_usb $pcscd_cmd" >"$T/pcscd.log" 2>&1 &
else
	sh -c "$pcscd_cmd" >"$T/pcscd.log" 2>&1 &
fi
PCSCD_PID=$!
wait_log "$T/pcscd.log" "Listening on" 10 || { fail "pcscd socket activation starts"; exit 1; }

# pcscd needs a moment for both vpcd slots; the first status starts it.
i=0
until comp_status pcsc: >"$T/status.json"; do
	i=$((i + 1))
	[ $i -gt 40 ] && { fail "a card shows up in pcscd within 20 s"; exit 1; }
	kill -0 "$PCSCD_PID" 2>/dev/null || { fail "pcscd is running"; exit 1; }
	sleep 0.5
done
expect "pcsc: (first reader with a card) is slot 0's SE" \
	[ "$(jq -r .eid "$T/status.json")" = "$EID" ]
expect "pcsc:<exact name> picks slot 1's SE" \
	[ "$(comp_status "pcsc:$READER 00 01" | jq -r .eid)" = "$EID2" ]
expect "pcsc:<prefix> picks the first matching reader" \
	[ "$(comp_status "pcsc:$READER" | jq -r .eid)" = "$EID" ]
err=$("$TS_BIN/tapshare-companion" status --se "pcsc:No Such Reader" 2>&1) && fail "unknown reader fails" ||
	expect "unknown reader: clear error naming the readers" \
		grep -q "no reader \"No Such Reader\" (readers: \"$READER 00 00\", \"$READER 00 01\")" <<<"$err"
expect "pcscd connected to the vpcd reader" grep -q "Attempting Connect to $READER 00 00" "$T/pcscd.log"

ts_start_companion "pcsc:"
expect "companion opened the card through PC/SC" grep -q "pcsc: card in reader \"$READER 00 00\"" "$T/companion.log"
ts_enroll

out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share over PC/SC completes"; }
echo "$out"
expect "S1 EID read over the link" grep -q "S1 read EID $EID" <<<"$out"
expect "S6 second confirmation over PC/SC" grep -q "S6 second confirmation" <<<"$out"
SHARE=$(alice shares --json | jq -r '.data | .shares[0].share_id')
expect "node says installed" [ "$(node_state "$SHARE")" = installed ]
ASSOC=$(alice shares --json | jq -r '.data | .shares[0].associated_app_id')
# A second PC/SC client on the card the companion holds (SCARD_SHARE_SHARED).
expect "the SE behind pcscd holds the associated app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se pcsc: --json 2>/dev/null | jq -e --arg a '$ASSOC' '.data | .apps | map(select(.app_id == \$a)) | length == 1' >/dev/null"
expect "slot 1's SE holds nothing" \
	[ "$(comp_status "pcsc:$READER 00 01" | jq '.apps | length')" = 0 ]

out=$(alice cancel "$SHARE" --timeout 60 2>&1) || { echo "$out"; fail "cancel over PC/SC completes"; }
echo "$out"
expect "share revoked" [ "$(node_state "$SHARE")" = revoked ]
expect "SE behind pcscd no longer holds the app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se pcsc: --json 2>/dev/null | jq -e '.data | .apps | length == 0' >/dev/null"
expect "APDUs went through pcscd" grep -q "SCardTransmit" "$T/pcscd.log"
# pcscd --apdu logs every command: the companion is an LPA on a logical channel
# (ISO 7816-4 MANAGE CHANNEL, channel in the CLA), never the basic channel.
expect "the companion opened a logical channel (MANAGE CHANNEL 00 70 00 00 01)" \
	grep -q "APDU: 00 70 00 00 01" "$T/pcscd.log"
expect "and selected the ISD-R on it (01 A4 04 00 10 A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 01 00)" \
	grep -q "APDU: 01 A4 04 00 10 A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 01 00" "$T/pcscd.log"
expect "ES10 STORE DATA went out on logical channel 1 (CLA 81)" grep -q "APDU: 81 E2 91 00" "$T/pcscd.log"
expect "and the tapshare credential applet on a channel of its own (02 A4 04 00 0A F0 74 61 70 73 68 61 72 65 01)" \
	grep -q "APDU: 02 A4 04 00 0A F0 74 61 70 73 68 61 72 65 01" "$T/pcscd.log"
# The companion holds channels 1 (ISD-R) and 2 (applet) while it runs.
expect "a second PC/SC client beside the running companion got its own channel 3 (CLA 83)" \
	grep -q "APDU: 83 E2 91 00" "$T/pcscd.log"
expect_fail "no STORE DATA on the basic channel (CLA 80)" grep -q "APDU: 80 E2" "$T/pcscd.log"
expect_fail "no SELECT of the ISD-R on the basic channel" \
	grep -q "APDU: 00 A4 04 00 10 A0 00 00 05 59 10 10" "$T/pcscd.log"
expect "status closes its channel when it is done (01 70 80 01)" \
	grep -q "APDU: 01 70 80 01" "$T/pcscd.log"

ts_stop "$COMP_PID"
COMP_PID=
stop_pcscd
ts_done
