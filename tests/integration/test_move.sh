#!/usr/bin/env bash
# Move (issue 3; the patent's "first performing the method and then
# cancelling"): `tapshare move APP` shares APP with the companion and, only
# after the second confirmation, releases the original at the node (provider
# told: cancelOrder) and deletes it from the primary's own secure element.
# Failure at each step leaves the original usable: refused before anything
# (M0), no companion on the link (S1), provider denies (S6), no second
# confirmation in time (S6 timeout, share cancelled); then the success.
. "$(dirname "$0")/lib.sh"
# Shared copies are limited to an hour; a move is a transfer and must not be.
SP_POLICY='[default]
decision = approve
max_duration_s = 3600
kind = sim
[app.sim-denied]
decision = deny'
ts_start_all
"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id sim-denied --name "Denied" \
	--kind sim --provider operator 2>>"$T/node-init.log"
"$TS_BIN/tapshare-node" app add --dir "$T/node" --user alice --app-id sim-nose --name "Not in SE" \
	--kind sim --provider operator 2>>"$T/node-init.log"

# The phone's own SE (EID2), personalised with the originals: manufacture /
# operator step, outside the share flow.
"$TS_BIN/tapshare-se" init --state "$T/phone.state" --pki "$T/pki" --eid "$EID2" \
	--preinstall sim-alice --kind sim --provider operator --name "Alice mobile" \
	--preinstall sim-denied --kind sim --provider operator >"$T/phone-init.log" 2>&1
PHONE_SE="inproc:$T/phone.state"

# phone_has APP: the phone's SE holds APP, enabled
phone_has() {
	"$TS_BIN/tapshare-se" status --state "$T/phone.state" --json | jdata |
		jq -e --arg a "$1" '.apps | map(select(.app_id == $a and .enabled)) | length == 1' >/dev/null
}
# app_state APP: "held" | "moved" as the node lists it (S2)
app_state() { alice apps --json | jq -r --arg a "$1" '.data | .apps[] | select(.app_id == $a) | .state'; }
nshares() { alice shares --json | jq '.data | .shares | length'; }
jqe() { jq -e "$@" >/dev/null; }

expect "personalisation put sim-alice into the phone's SE" phone_has sim-alice
expect "help move documents the release step" bash -c "'$TS_BIN/tapshare' help move | grep -q 'S7  after the second confirmation'"
rc=0; alice move --eid "$EID" >/dev/null 2>&1 || rc=$?
expect "move without APP_ID -> exit 2" [ "$rc" = 2 ]
rc=0; alice move sim-alice >/dev/null 2>&1 || rc=$?
expect "move without --link/--eid -> exit 2" [ "$rc" = 2 ]

# enroll --se stores the phone's SE in primary.ini ([primary] se = ...)
CAROL_CODE=$(printf '%s\n' "carol's passphrase 7" | "$TS_BIN/tapshare-node" user add carol --dir "$T/node" 2>>"$T/node-init.log")
"$TS_BIN/tapshare" --home "$T/carol" --se "inproc:$T/carol-se.state" enroll --node "$NODE_URL" \
	--ca "$T/pki/node-ca.crt" --code "$CAROL_CODE" >>"$T/enroll.log" 2>&1
expect "enroll --se writes [primary] se into primary.ini" \
	bash -c "grep -qx '\[primary\]' '$T/carol/primary.ini' && grep -qxF 'se = inproc:$T/carol-se.state' '$T/carol/primary.ini'"
expect "... and that primary.ini still loads" "$TS_BIN/tapshare" --home "$T/carol" apps --json >/dev/null
expect "personalisation put sim-denied into the phone's SE" phone_has sim-denied

# --- M0: refused before anything -------------------------------------------
rc=0; out=$(alice move sim-alice --eid "$EID" 2>&1) || rc=$?
expect "no SE configured -> exit 1" [ "$rc" = 1 ]
expect "... says no secure element is configured" grep -q "no secure element configured" <<<"$out"

rc=0; out=$(alice --se "$PHONE_SE" move sim-nose --eid "$EID" --timeout 10 2>&1) || rc=$?
echo "$out"
expect "app not in the phone's SE -> exit 1" [ "$rc" = 1 ]
expect "... refused at M0, nothing changed" grep -q "move refused at M0: sim-nose is not in this phone's secure element" <<<"$out"
expect "... no share created" [ "$(nshares)" = 0 ]
expect "... no S4 attempted" bash -c "! grep -q 'S4 ' <<<\"\$1\"" _ "$out"

# --- S1: nobody on the link ------------------------------------------------
rc=0; out=$(alice --se "$PHONE_SE" move sim-alice --link "sim:$T/nobody.sock" --timeout 2 2>&1) || rc=$?
echo "$out"
expect "no companion on the link -> exit 1" [ "$rc" = 1 ]
expect "... move failed at S1, original unchanged" grep -q "move failed at S1: .*the original sim-alice is unchanged and usable" <<<"$out"
expect "... no share created" [ "$(nshares)" = 0 ]

# --- S6: the provider denies -----------------------------------------------
rc=0; out=$(alice --se "$PHONE_SE" move sim-denied --eid "$EID" --timeout 20 2>&1) || rc=$?
echo "$out"
expect "provider denies -> exit 1" [ "$rc" = 1 ]
expect "... the denial is shown" grep -q "denied by provider" <<<"$out"
expect "... move failed at S6, original unchanged" grep -q "move failed at S6: .*the original sim-denied is unchanged and usable" <<<"$out"
expect "... the phone's SE still holds sim-denied" phone_has sim-denied
expect "... the node still lists sim-denied as held" [ "$(app_state sim-denied)" = held ]
expect "... no release sent" bash -c "! grep -q 'S7 ' <<<\"\$1\"" _ "$out"

# --- S6 timeout: the companion is away ---------------------------------------
ts_stop "$COMP_PID"
rc=0; out=$(alice --se "$PHONE_SE" move sim-alice --eid "$EID" --timeout 3 --json 2>"$T/move-timeout.err" | jdata) || rc=$?
cat "$T/move-timeout.err"
expect "no second confirmation in time -> exit 1" [ "$rc" = 1 ]
expect "... JSON says failed at S6, original unchanged" \
	jqe '.result == "failed" and .failed_at == "S6" and .original == "unchanged"' <<<"$out"
expect "... the error says the original is unchanged" grep -q "the original sim-alice is unchanged and usable" "$T/move-timeout.err"
TSHARE=$(jq -r '.share.share_id' <<<"$out")
expect "... the share was cancelled (revoked at the node)" wait_state "$TSHARE" revoked 10
expect "... the phone's SE still holds sim-alice" phone_has sim-alice
expect "... the node still lists sim-alice as held" [ "$(app_state sim-alice)" = held ]

# --- success (SE from primary.ini this time, as `enroll --se` writes it) ----
: >"$T/companion.log"
ts_start_companion
printf '\n[primary]\nse = %s\n' "$PHONE_SE" >>"$T/alice/primary.ini"
rc=0; out=$(alice move sim-alice --link "sim:$T/link.sock" --timeout 30 2>&1) || rc=$?
echo "$out"
expect "move exits 0" [ "$rc" = 0 ]
for s in "M0 sim-alice is in this phone's secure element" "S1 read EID $EID" "S5 first confirmation" \
	"S6 second confirmation" "S7 releasing the original sim-alice" \
	"S8 move complete: sim-alice now lives on $EID as "; do
	expect "... prints '$s'" grep -qF "$s" <<<"$out"
done
MSHARE=$(alice shares --json | jq -r '.data | .shares | map(select(.app_id == "sim-alice" and .state == "installed")) | .[0].share_id')
expect "the node's share is installed" [ "$(node_state "$MSHARE")" = installed ]
ASSOC=$(alice shares --json | jq -r --arg s "$MSHARE" '.data | .shares[] | select(.share_id == $s) | .associated_app_id')
expect "... the success line names the associated app" grep -qF "as $ASSOC;" <<<"$out"
expect "... the copy has no time limit (no note printed)" bash -c "! grep -q 'note: the provider limited' <<<\"\$1\"" _ "$out"
expect "... the node recorded a transfer without not_after" bash -c \
	"'$TS_BIN/tapshare-node' shares --dir '$T/node' --json | jq -e '.data | map(select(.operation == \"move\" and .state == \"installed\" and .not_after == 0)) | length == 1' >/dev/null"
expect "the node lists sim-alice as moved" [ "$(app_state sim-alice)" = moved ]
expect "the phone's SE no longer holds sim-alice" bash -c \
	"'$TS_BIN/tapshare-se' status --state '$T/phone.state' --json | jq -e '.data | (.apps | map(.app_id) | index(\"sim-alice\")) == null and .pending_notifications == 0' >/dev/null"
expect "... and still holds sim-denied" phone_has sim-denied
expect "the companion's SE holds the associated app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e --arg a '$ASSOC' '.data | .apps | map(select(.app_id == \$a)) | length == 1' >/dev/null"
wait_log "$T/node.log" "S16 move: provider .* told that original sim-alice moved to" 10 || true
expect "the node told the provider" grep -qE "S16 move: provider .* told that original sim-alice moved to $ASSOC" "$T/node.log"
expect "the provider recorded a cancelOrder for the original" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e --arg s '$MSHARE' '.data | map(select(.function == \"cancelOrder\" and .share_id == \$s)) | length == 1' >/dev/null"

# a moved app cannot be moved (or shared) again; the refusal comes from the
# phone's SE (M0) before the node is asked
rc=0; out=$(alice move sim-alice --eid "$EID" --timeout 5 2>&1) || rc=$?
expect "moving it again -> exit 1 at M0" bash -c "[ $rc = 1 ] && grep -q 'refused at M0' <<<\"\$1\"" _ "$out"
rc=0; out=$(alice share --app sim-alice --eid "$EID" --timeout 5 2>&1) || rc=$?
expect "sharing the moved app -> refused with app_moved" bash -c "[ $rc = 1 ] && grep -q 'app_moved' <<<\"\$1\"" _ "$out"
ts_done
