#!/usr/bin/env bash
# The same flow with the secure element in its own process (tapshare-se),
# reached over the vsmartcard vpcd framing on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
ts_start_all --se-serve
out=$(alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60 2>&1) || { echo "$out"; fail "share over vpcd completes"; }
expect "S6 second confirmation over vpcd" grep -q "S6 second confirmation" <<<"$out"
SHARE=$(alice shares --json | jq -r '.data | .shares[0].share_id')
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

# The companion as an LPA engineer uses it, over vpcd: chip info, profile
# list, profile management by ICCID and AID, notifications.
C=("$TS_BIN/tapshare-companion")
SE="vpcd:127.0.0.1:$SE_PORT"
"${C[@]}" status --se "$SE" --json 2>>"$T/lpa.log" | jdata >"$T/lpa.json"
expect "status: the EID" [ "$(jq -r .eid "$T/lpa.json")" = "$EID" ]
expect "status: EUICCInfo2 SVN, firmware, profile version, PP version" \
	jq -e '.euicc_info2 | (.svn | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")) and (.firmware_version | length > 0) and (.profile_version | length > 0) and (.pp_version | length > 0)' "$T/lpa.json"
expect "status: extCardResource (free memory, installed applications) and CI key ids" \
	jq -e '.euicc_info2 | .ext_card_resource.free_non_volatile_memory > 0 and .ext_card_resource.installed_applications == 1 and (.ci_pkid_verification | length >= 1) and (.ci_pkid_signing | length >= 1)' "$T/lpa.json"
expect "status: one profile with ICCID (the provider's: 19-20 digits, 89...), ISD-P AID, state, class, names" \
	jq -e '.profiles | length == 1 and (.[0].iccid | test("^89[0-9]{17,18}$")) and (.[0].isdp_aid | test("^A0000005591010FFFFFFFF8900[0-9A-F]{6}$")) and .[0].state == "enabled" and .[0].class == "operational" and .[0].service_provider_name == "operator" and .[0].profile_name == "Alice mobile"' "$T/lpa.json"
expect "status: the tapshare app names the profile's ICCID" \
	jq -e '.apps[0].iccid == .profiles[0].iccid and (.apps[0].app_id | startswith("sim-"))' "$T/lpa.json"
ICCID=$(jq -r '.profiles[0].iccid' "$T/lpa.json")
AID=$(jq -r '.profiles[0].isdp_aid' "$T/lpa.json")
expect "status text shows the profile line" bash -c "'${C[0]}' status --se '$SE' 2>/dev/null | grep -q 'ICCID $ICCID  AID $AID  enabled  operational  \"operator\" / \"Alice mobile\"'"
expect "default-smdp sets the default SM-DP+ address" "${C[@]}" default-smdp --se "$SE" smdp.example.org
expect "... shown by status (EuiccConfiguredAddresses)" bash -c "'${C[0]}' status --se '$SE' --json 2>/dev/null | jq -e '.data | .addresses.default_dp_address == \"smdp.example.org\" and (.addresses.root_ds_address | length > 0)' >/dev/null"
expect "... and removed with \"\"" bash -c "'${C[0]}' default-smdp --se '$SE' '' >/dev/null && '${C[0]}' status --se '$SE' --json 2>/dev/null | jq -e '.data | .addresses | has(\"default_dp_address\") | not' >/dev/null"
expect "nickname by ICCID" "${C[@]}" nickname --se "$SE" "$ICCID" "watch line"
expect "... shown by status" bash -c "'${C[0]}' status --se '$SE' --json 2>/dev/null | jq -e '.data | .profiles[0].nickname == \"watch line\"' >/dev/null"
expect "disable by ISD-P AID (lower case)" "${C[@]}" disable --se "$SE" "$(tr 'A-F' 'a-f' <<<"$AID")"
err=$("${C[@]}" disable --se "$SE" "$ICCID" 2>&1) && fail "disabling a disabled profile fails" ||
	expect "... a second disable: the eUICC's profileNotInEnabledState" grep -q "profileNotInEnabledState (2)" <<<"$err"
expect "enable by ICCID with refreshFlag" "${C[@]}" enable --se "$SE" --refresh "$ICCID"
err=$("${C[@]}" delete --se "$SE" "$AID" 2>&1) && fail "deleting an enabled profile fails" ||
	expect "... delete of an enabled profile: profileNotInDisabledState" grep -q "profileNotInDisabledState (2)" <<<"$err"
err=$("${C[@]}" enable --se "$SE" 89999000000000000008 2>&1) && fail "enabling an unknown ICCID fails" ||
	expect "... an unknown ICCID: iccidOrAidNotFound" grep -q "iccidOrAidNotFound (1)" <<<"$err"
"${C[@]}" notification list --se "$SE" --json 2>>"$T/lpa.log" | jdata >"$T/notif.json"
expect "notification list: disable then enable, with the ICCID and the node's address" \
	jq -e --arg i "$ICCID" '.notifications | length == 2 and .[0].operation == "disable" and .[1].operation == "enable" and .[0].iccid == $i and .[0].seq < .[1].seq and (.[0].address | length > 0)' "$T/notif.json"
out=$("${C[@]}" notification process --se "$SE" --node "https://127.0.0.2:9" --ca "$T/pki/node-ca.crt" 2>"$T/other-dp.log") ||
	fail "notification process for another SM-DP+ succeeds"
expect "notification process leaves notifications for another SM-DP+ address pending, never sent" bash -c \
	"grep -q '^0 notifications sent and removed, 0 pending' <<<'$out' && grep -q '2 notifications for other SM-DP+ addresses left pending' '$T/other-dp.log' && ! grep -q 'not sent' '$T/other-dp.log' && '${C[0]}' notification list --se '$SE' --json | jq -e '.data | .notifications | length == 2' >/dev/null"
out=$("${C[@]}" notification process --se "$SE" --node "$NODE_URL" --ca "$T/pki/node-ca.crt" 2>>"$T/lpa.log") ||
	fail "notification process succeeds"
expect "notification process: both sent to the node and removed" grep -q "^2 notifications sent and removed, 0 pending" <<<"$out"
expect "... the node verified and took them (disable and enable of the share's profile)" bash -c \
	"grep -q 'handleNotification: disable notification .* (ICCID $ICCID)' '$T/node.log' && grep -q 'handleNotification: enable notification .* (ICCID $ICCID)' '$T/node.log'"
expect "... nothing pending any more" bash -c "'${C[0]}' notification list --se '$SE' --json | jq -e '.data | .notifications | length == 0' >/dev/null"
expect "disable again, then notification remove --all drops it unsent" bash -c \
	"'${C[0]}' disable --se '$SE' '$ICCID' >/dev/null && '${C[0]}' notification remove --se '$SE' --all | grep -q 'removed' && '${C[0]}' notification list --se '$SE' --json | jq -e '.data | .notifications | length == 0' >/dev/null"
ts_done
