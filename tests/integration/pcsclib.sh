#!/usr/bin/env bash
# Shared set-up for the tests that reach tapshare-se through PC/SC (source
# after lib.sh): tapshare-se behind pcscd + vsmartcard's vpcd driver, on
# 127.0.0.1 only.
#
# vpcd with DEVICENAME 127.0.0.1:0x8C7B connects out to the card on fixed
# ports 35963 (slot 0) and 35964 (slot 1), and pcscd aborts if a slot's port
# is closed, so both are always served (pcsc_start_se twice). The fixed ports
# mean two such tests cannot overlap: their ctest names contain "pcsc"
# (RUN_SERIAL), and each takes the lock below.
#
# Isolation from any pcscd of the host (docs/pcsc.md): pcscd 1.9 has its
# client socket compiled in (/run/pcscd/pcscd.comm) and ignores
# PCSCLITE_CSOCK_NAME, but accepts a socket passed by systemd socket
# activation; systemd-socket-activate creates it in $T and our clients find it
# through PCSCLITE_CSOCK_NAME (honoured by libpcsclite). pcscd still writes
# /run/pcscd/pcscd.pid, so it runs in a private mount namespace with its own
# /run, and with the USB driver bundles hidden so it never claims a real reader.
PATH="$PATH:/usr/sbin:/sbin" # pcscd lives in sbin

# The fixed ports are also guarded across processes: a run by hand beside a
# `make test` (or two checkouts' suites) waits here for the other instead of
# failing with "cannot listen on 127.0.0.1:35964". The lock is held by this
# shell's descriptor 9 until the test exits; bounded, then a clear failure.
PCSC_PORTS_LOCK=${PCSC_PORTS_LOCK:-/tmp/tapshare-pcsc-ports.lock}
exec 9>>"$PCSC_PORTS_LOCK"
flock -w 240 9 || { echo "FAIL - the vpcd ports are held by another test for 240 s ($PCSC_PORTS_LOCK)"; exit 1; }

VPCD_LIB=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
PCSC_DRIVERS=/usr/lib/pcsc/drivers
READER="tapshare-it vpcd"

need() { echo "FAIL - $1 (scripts/bootstrap.sh installs it)"; exit 1; }
command -v pcscd >/dev/null || need "pcscd not installed (Debian package pcscd)"
[ -f "$VPCD_LIB" ] || need "vpcd driver $VPCD_LIB not installed (Debian package vsmartcard-vpcd)"
command -v systemd-socket-activate >/dev/null ||
	need "systemd-socket-activate not installed (Debian package systemd)"

# The command prefix that gives pcscd a private /run (and no USB drivers), or
# nothing when mount namespaces are unavailable.
NS=()
if unshare -m --propagation private true 2>/dev/null; then
	NS=(unshare -m --propagation private)
elif unshare -r -m --propagation private true 2>/dev/null; then
	NS=(unshare -r -m --propagation private)
elif [ -e /run/pcscd/pcscd.pid ]; then
	need "a system pcscd is running and mount namespaces are unavailable (unshare -m): its /run/pcscd/pcscd.pid would be overwritten"
fi

# pcsc_start_se STATE PORT NAME VAR: the vpcd ports are fixed, and the kernel
# may hand one out briefly as the local port of some other connection on this
# machine (they lie in the ephemeral range), so a busy port is retried for a
# while before the test gives up. Start the SEs before anything else of the
# test opens connections.
pcsc_start_se() {
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

# pcsc_config: the reader configuration, the client socket, and the clean-up
# (pcscd stops before the cards — vpcd aborts pcscd when a card's port closes
# — and before lib.sh's clean-up). pcscd itself starts with pcsc_launch.
PCSCD_PID=
pcsc_config() {
	cat >"$T/reader.conf" <<EOC
FRIENDLYNAME "$READER"
DEVICENAME   127.0.0.1:0x8C7B
LIBPATH      $VPCD_LIB
CHANNELID    0x8C7B
EOC
	export PCSCLITE_CSOCK_NAME="$T/pcscd.comm"
	trap pcsc_cleanup EXIT
}
# SIGTERM makes pcscd 1.9 exit with status 1.
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

# pcsc_launch: systemd-socket-activate listens on $T/pcscd.comm and execs
# pcscd (same PID) at the first connection, passing the socket as fd 3.
# pcscd logs every APDU (--apdu) to $T/pcscd.log.
pcsc_launch() {
	local hide_usb="" b
	for b in "$PCSC_DRIVERS"/*.bundle; do
		[ -d "$b" ] && hide_usb="$hide_usb mount -t tmpfs tmpfs '$b' &&"
	done
	local cmd="exec systemd-socket-activate -l '$T/pcscd.comm' pcscd --foreground --debug --apdu -c '$T/reader.conf'"
	if [ ${#NS[@]} -gt 0 ]; then
		"${NS[@]}" sh -c "mount -t tmpfs -o mode=0755 tmpfs /run && $hide_usb $cmd" >"$T/pcscd.log" 2>&1 &
	else
		sh -c "$cmd" >"$T/pcscd.log" 2>&1 &
	fi
	PCSCD_PID=$!
	wait_log "$T/pcscd.log" "Listening on" 10 || { fail "pcscd socket activation starts"; exit 1; }
}

# pcsc_wait_card CMD...: pcscd needs a moment for both vpcd slots; retries
# CMD (which opens the card) for up to 20 s.
pcsc_wait_card() {
	local i=0
	until "$@"; do
		i=$((i + 1))
		[ $i -gt 40 ] && { fail "a card shows up in pcscd within 20 s"; exit 1; }
		kill -0 "$PCSCD_PID" 2>/dev/null || { fail "pcscd is running"; exit 1; }
		sleep 0.5
	done
}
