#!/usr/bin/env bash
# Issue 7 "Done when": a standard LPA given only the activation code — or
# discovering the share through the node's SM-DS with its EID — downloads
# into tapshare-se through pcscd + vpcd, sends its notifications, and the
# primary gets S6, with no tapshare program on the companion's side.
#
# The companion's side is tests/helpers/test_lpa.c: ES10 to the eUICC through
# PC/SC only, ES9+ / ES11 to the node over server-authenticated TLS only (the
# node's TLS CA, no client certificate, no account, no push stream). No
# tapshare-companion runs in this test. Slot 0 holds EID's eUICC, slot 1
# EID2's (pcsclib.sh).
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
pcsc_launch

BARE=${NODE_URL#https://}
LPA1=("$TS_BIN/test_lpa" --ca "$T/pki/node-ca.crt" --se "pcsc:$READER 00 00")
LPA2=("$TS_BIN/test_lpa" --ca "$T/pki/node-ca.crt" --se "pcsc:$READER 00 01")
pcsc_wait_card "${LPA1[@]}" info >"$T/info1.txt" 2>>"$T/lpa.log"
expect "the LPA reads EID's eUICC through pcscd (slot 0)" grep -qx "eid $EID" "$T/info1.txt"
"${LPA2[@]}" info >"$T/info2.txt" 2>>"$T/lpa.log" || true
expect "and EID2's (slot 1)" grep -qx "eid $EID2" "$T/info2.txt"
ts_enroll

# TLS: the node's one listener lets a client without a certificate reach
# ES9+ / ES11 (server-authenticated TLS, SGP.22; the eUICC's signature proves
# the EID) and still refuses it the APIs that need a device certificate.
code=$(curl -s -o "$T/apps.json" -w '%{http_code}' --cacert "$T/pki/node-ca.crt" "$NODE_URL/v1/apps")
expect "without a client certificate the primary API is refused (401 client_certificate_required)" \
	bash -c "[ '$code' = 401 ] && grep -q client_certificate_required '$T/apps.json'"

# share_bg NAME EID: `tapshare share --json` waiting for S6 in the background
# (no companion will answer its push); NAME_PID its PID. share_ac NAME: the
# activation code its progress reports.
share_bg() {
	alice share --eid "$2" --app sim-alice --timeout 240 --json >"$T/$1.out" 2>>"$T/$1.err" &
	eval "${1}_PID=$!"
	PIDS+=("$!")
}
share_ac() {
	wait_log "$T/$1.out" '"activation_code"' 60 || { fail "share $1 reports an activation code"; return 1; }
	grep '"activation_code"' "$T/$1.out" | head -n1 | jq -r '.event.activation_code'
}
# share_id NAME: the share id of the S5 line
share_id() { grep -m1 '"step":"S5"' "$T/$1.out" | jq -r '.event.text' | sed -E 's/.*\(share ([0-9a-f]+)\)$/\1/'; }

# ---- 1. the activation code -----------------------------------------------
share_bg A "$EID"
AC1=$(share_ac A)
SHARE_A=$(share_id A)
PAT="^LPA:1[\$]${BARE//./[.]}[\$][0-9a-f]{32}\$"
expect "share --json reports the activation code LPA:1\$<address>\$<matching id> while it waits" grep -Eq "$PAT" <<<"$AC1"
expect "share A authorised, waiting for its download" wait_state "$SHARE_A" authorised 20

# A wrong matching id: the eUICC signs it in ctxParams1, the SM-DP+ refuses it
# at authenticateClient with MatchingID / Refused (SGP.22 8.2.6 / 3.8).
WRONG="LPA:1\$$BARE\$$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
out=$("${LPA1[@]}" download "$WRONG" 2>>"$T/lpa.log") && st=0 || st=$?
echo "$out"
expect "a wrong matching id is refused (exit 3)" [ "$st" = 3 ]
expect "... at authenticateClient with 8.2.6 / 3.8" grep -q "^refused authenticateClient: Failed: subjectCode 8.2.6 reasonCode 3.8" <<<"$out"
expect "... and share A stays authorised" [ "$(node_state "$SHARE_A")" = authorised ]

# The right code on another eUICC: the share is bound to EID, the eUICC
# certificate proves EID2 (8.1.3 eUICC certificate / 6.1 verification failed).
out=$("${LPA2[@]}" download "$AC1" 2>>"$T/lpa.log") && st=0 || st=$?
echo "$out"
expect "share A's code on EID2's eUICC is refused at authenticateClient (8.1.3 / 6.1)" \
	grep -q "^refused authenticateClient: Failed: subjectCode 8.1.3 reasonCode 6.1" <<<"$out"
expect "... and share A stays authorised" [ "$(node_state "$SHARE_A")" = authorised ]

# The download, its install notification kept back for now.
out=$("${LPA1[@]}" --no-notify --save-notification "$T/pir_a.der" download "$AC1" 2>>"$T/lpa.log") ||
	{ echo "$out"; fail "the LPA downloads share A with its activation code"; }
echo "$out"
expect "the LPA downloaded share A into EID's eUICC through pcscd" grep -q "^installed ICCID [0-9]\{19,20\} transaction [0-9a-f]\{32\}$" <<<"$out"
TID_A=$(sed -n 's/^installed ICCID [0-9]* transaction //p' <<<"$out")
expect "share A delivered (the package is on the eUICC, no notification yet)" wait_state "$SHARE_A" delivered 10

# ---- 2. SM-DS discovery with the EID --------------------------------------
share_bg B "$EID2"
AC2=$(share_ac B)
SHARE_B=$(share_id B)
expect "share B authorised" wait_state "$SHARE_B" authorised 20
out=$("${LPA2[@]}" --save-notification "$T/pir_b.der" download-smds "$BARE" 2>>"$T/lpa.log") ||
	{ echo "$out"; fail "the LPA discovers share B through ES11 and downloads it"; }
echo "$out"
expect "ES11 gave EID2's eUICC exactly share B's event (eventId = its matching id, the node's address)" \
	bash -c "[ \"\$(grep -c '^event ' <<<'$out')\" = 1 ] && grep -qx 'event ${AC2##*\$} $BARE' <<<'$out'"
expect "the LPA downloaded it and sent the install notification" grep -q "^notification [0-9]* install sent$" <<<"$out"
expect "share B installed" wait_state "$SHARE_B" installed 20
wait "$B_PID" && st=0 || st=$?
expect "the primary's share B ends with S6 (exit 0)" bash -c "[ $st = 0 ] && grep -q '\"step\":\"S6\"' '$T/B.out'"
expect "... result installed" [ "$(jdata <"$T/B.out" | jq -r .result)" = installed ]
r=$("${LPA2[@]}" discover "$BARE" 2>>"$T/lpa.log")
expect "after the download EID2 has no event left" jq -e '.eventEntries | length == 0' <<<"$r"

# ---- 3. another eUICC's notification --------------------------------------
# EID2's signed install result with share A's session and profile put in:
# the signature (euiccSignPIR, by EID2's eUICC over its own session) does not
# verify with the eUICC key share A's session authenticated.
hex() { od -An -tx1 -v "$1" | tr -d ' \n'; }
tid_of() { sed -E 's/^bf37..(..)?bf27..(..)?8010([0-9a-f]{32}).*/\3/' <<<"$1"; }
iccid_of() { grep -o '5a0a[0-9a-f]\{20\}' <<<"$1" | head -n1; }
HA=$(hex "$T/pir_a.der")
HB=$(hex "$T/pir_b.der")
expect "share A's saved install result names its transaction" [ "$(tid_of "$HA")" = "$TID_A" ]
FORGED=${HB/$(tid_of "$HB")/$(tid_of "$HA")}
FORGED=${FORGED/$(iccid_of "$HB")/$(iccid_of "$HA")}
expect "the forged result differs from EID2's only in transaction and ICCID" [ ${#FORGED} = ${#HB} ]
printf '%s' "$FORGED" | xxd -r -p >"$T/forged.der"
out=$("${LPA2[@]}" send-notification "$BARE" "$T/forged.der" 2>>"$T/lpa.log") && st=0 || st=$?
echo "$out"
# SGP.22 answers handleNotification with HTTP 204 whatever the SM-DP+ makes
# of it; the node logs what it refused (8.1 / 6.1) and changes nothing.
expect "EID2's notification replayed for share A is refused (euiccSignPIR does not verify)" \
	grep -q "euiccSignPIR of the install result for session $TID_A does not verify" "$T/node.log"
expect "... and share A stays delivered" [ "$(node_state "$SHARE_A")" = delivered ]
out=$("${LPA2[@]}" send-notification "$BARE" "$T/pir_b.der" 2>>"$T/lpa.log") ||
	{ echo "$out"; fail "EID2's own install result again is acknowledged"; }
states=$("$TS_BIN/tapshare-node" shares --dir "$T/node" --json | jq -r '.data | map(.state) | sort | join(" ")')
expect "EID2's own install result sent again changes nothing (A delivered, B installed)" [ "$states" = "delivered installed" ]

# ---- 4. share A's own notification: S15, and the primary gets S6 ----------
out=$("${LPA1[@]}" notifications 2>>"$T/lpa.log") || { echo "$out"; fail "the LPA sends EID's pending notifications"; }
echo "$out"
expect "the LPA sent share A's install notification and removed it from the eUICC" grep -q "^notification [0-9]* install sent$" <<<"$out"
expect "share A installed" wait_state "$SHARE_A" installed 20
wait "$A_PID" && st=0 || st=$?
expect "the primary's share A ends with S6 (exit 0)" bash -c "[ $st = 0 ] && grep -q '\"step\":\"S6\"' '$T/A.out'"
expect "... result installed, and the envelope's activation_code is the one the LPA used" \
	jq -e --arg ac "$AC1" '.result == "installed" and .activation_code == $ac' <<<"$(jdata <"$T/A.out")"
out=$("${LPA1[@]}" notifications 2>>"$T/lpa.log")
expect "nothing left pending in EID's eUICC" [ -z "$out" ]

# Everything the LPA did went through pcscd, as an SGP.22 LPA: ES10 STORE
# DATA on a logical channel, never the basic channel.
expect "APDUs went through pcscd" grep -q "SCardTransmit" "$T/pcscd.log"
expect "ES10 STORE DATA on a logical channel (CLA 81)" grep -q "APDU: 81 E2 91 00" "$T/pcscd.log"
expect_fail "no STORE DATA on the basic channel (CLA 80)" grep -q "APDU: 80 E2" "$T/pcscd.log"
# LoadBoundProfilePackage command by command (SGP.22 §2.5.5): series of their
# own (first block P2 00) that start with the metadata sequence's A1 header,
# with one 88, with one 86 profile segment.
for t in A1 88 86; do
	expect "a STORE DATA series of the bound package starts with $t" \
		grep -Eq "APDU: 81 E2 [19]1 00 [0-9A-F]{2} $t " "$T/pcscd.log"
done
expect "the eUICC holds share A's profile" bash -c "'$TS_BIN/tapshare-se' status --state '$T/se.state' --json 2>/dev/null | grep -q sim-"

stop_pcscd
ts_done
