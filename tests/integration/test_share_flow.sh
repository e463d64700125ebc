#!/usr/bin/env bash
# Full happy path (claims 1, 6, 12): S1 read EID over the sim link, S4 share,
# S5 first confirmation, S13 provider authorises, S14 bound package delivered
# to the companion's SE, S15/S6 second confirmation; then S7/S8 cancel ->
# S16/S17 revoke, provider told, the SE deletes.
. "$(dirname "$0")/lib.sh"
ts_start_all

out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share completes"; }
echo "$out"
expect "S1 EID read over the link" grep -q "S1 read EID $EID" <<<"$out"
expect "S5 first confirmation shown" grep -q "S5 first confirmation" <<<"$out"
expect "S6 second confirmation shown" grep -q "S6 second confirmation" <<<"$out"

SHARE=$(alice shares --json | jq -r '.data | .shares[0].share_id')
expect "node says installed" [ "$(node_state "$SHARE")" = installed ]
expect "exactly one share" [ "$(alice shares --json | jq '.data | .shares | length')" = 1 ]
# S14 for the download is said once, by the push that wrote it to the stream
expect "one S14 line for the download, the push's" \
	[ "$(grep -c "S14 .*download command for share $SHARE\|S14 share $SHARE: download pushed" "$T/node.log")" = 1 ]
expect "node log has S11..S15" bash -c "grep -q ' S11 ' '$T/node.log' && grep -q ' S12 ' '$T/node.log' && grep -q ' S13 ' '$T/node.log' && grep -q ' S14 ' '$T/node.log' && grep -q ' S15 ' '$T/node.log'"

ASSOC=$(alice shares --json | jq -r '.data | .shares[0].associated_app_id')
expect "associated app differs from the original" [ "$ASSOC" != sim-alice ]
expect "the companion's SE holds the associated app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e --arg a '$ASSOC' '.data | .apps | map(select(.app_id == \$a)) | length == 1' >/dev/null"
# The SIM arrived as the provider's TCA profile package (issue 7 item 5): the SE
# installed it under the provider's ICCID ("sim-<ICCID>") and logged its IMSI;
# the stored package holds that IMSI in EF-IMSI, decoded here independently
# (3GPP TS 31.102 §4.2.2: ef-imsi File A3 0B { 83 09 length, digit 1 | parity |
# type 001, then digit pairs low nibble first, F filler }).
ICCID=${ASSOC#sim-}
LINE=$(grep -oE "$ASSOC: profile package 2\.3, ICCID [0-9]+, IMSI [0-9]+" "$T/companion.log" | head -1)
echo "SE: $LINE"
expect "the SE installed a profile package with the provider's ICCID" \
	[ "$(sed -E 's/.*ICCID ([0-9]+),.*/\1/' <<<"$LINE")" = "$ICCID" ]
expect "the SE keeps the app under that ICCID" \
	[ "$(jq -r --arg a "$ASSOC" '.apps[] | select(.app_id == $a) | .iccid' "$T/se.state")" = "$ICCID" ]
IMSI=$(sed -E 's/.*IMSI ([0-9]+)$/\1/' <<<"$LINE")
expect "the SE reports an IMSI of the provider's test network (MCC 001, MNC 01)" grep -qE '^00101[0-9]{10}$' <<<"$IMSI"
PKG=$(jq -r --arg a "$ASSOC" '.apps[] | select(.app_id == $a) | .payload' "$T/se.state" | base64 -d | od -An -tx1 | tr -d ' \n')
EF=$(grep -oE 'a30b8309[0-9a-f]{18}' <<<"$PKG" | head -1 | cut -c9-)
n=$((16#${EF:0:2})) dec=${EF:2:1}
for ((i = 2; i <= n; i++)); do b=${EF:$((2 * i)):2}; dec+=${b:1:1}${b:0:1}; done
dec=${dec%f}
expect "the stored package's EF-IMSI is the IMSI the SE reported" [ "${IMSI:-none}" = "$dec" ]
expect "provider recorded one approval" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e '.data | map(select(.function == \"confirmOrder\")) | length == 1' >/dev/null"

# cancel (S7/S8 -> S16/S17)
out=$(alice cancel "$SHARE" --timeout 60 2>&1) || { echo "$out"; fail "cancel completes"; }
echo "$out"
expect "share revoked" [ "$(node_state "$SHARE")" = revoked ]
expect "node log has S16 and S17" bash -c "grep -q ' S16 ' '$T/node.log' && grep -q ' S17 ' '$T/node.log'"
expect "SE no longer holds the app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e '.data | .apps | length == 0' >/dev/null"
wait_log "$T/sp.log" "cancelOrder" 10 || true
expect "provider told of the cancellation" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e '.data | map(select(.function == \"cancelOrder\")) | length == 1' >/dev/null"
ts_done
