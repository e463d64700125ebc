#!/usr/bin/env bash
# The same flow with the companion's secure element reached through PC/SC:
# tapshare-se behind pcscd + vsmartcard's vpcd driver, on 127.0.0.1 only
# (pcsclib.sh). Slot 0 is the companion's SE, slot 1 a second SE (EID2) that
# lets us check reader selection by name.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pcsclib.sh"

ts_pki
ts_init_se
"$TS_BIN/tapshare-se" init --state "$T/se2.state" --pki "$T/pki" --eid "$EID2" >>"$T/se-init.log" 2>&1

pcsc_start_se "$T/se.state" 35963 se SE_PID
pcsc_start_se "$T/se2.state" 35964 se2 SE2_PID
ts_start_sp
ts_init_node
ts_start_node

pcsc_config

comp_status() { "$TS_BIN/tapshare-companion" status --se "$1" --json 2>>"$T/status.log" | jdata; }

# Before pcscd exists: a clear error, not a hang.
err=$("$TS_BIN/tapshare-companion" status --se pcsc: 2>&1) && fail "status without pcscd fails" ||
	expect "status without pcscd says so" grep -q "pcscd not running" <<<"$err"

pcsc_launch

# the first status starts pcscd
pcsc_wait_card comp_status pcsc: >"$T/status.json"
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
