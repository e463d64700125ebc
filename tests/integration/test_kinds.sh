#!/usr/bin/env bash
# Three kinds of security application through two providers at once (the node
# as broker, patent Fig. 5b): a SIM subscription from the operator, a bank-ID
# credential from the bank, a service credential from the operator.
. "$(dirname "$0")/lib.sh"
ts_pki
ts_start_sp
ts_init_node
ts_start_bank
ts_start_node
ts_init_se
ts_start_companion
ts_enroll

apps=$(alice apps --json)
expect "apps lists the bank-ID credential with its kind and provider" \
	jq -e '.apps | map(select(.app_id == "bankid-alice" and .kind == "bankid" and .provider == "bank")) | length == 1' <<<"$apps"
expect "apps lists the service credential" \
	jq -e '.apps | map(select(.app_id == "svc-parking" and .kind == "service")) | length == 1' <<<"$apps"

for app in sim-alice bankid-alice svc-parking; do
	out=$(alice share --link "sim:$T/link.sock" --app "$app" --timeout 60 2>&1) || { echo "$out"; fail "share $app"; }
	expect "$app: second confirmation" grep -q "S6 second confirmation" <<<"$out"
done

status=$("$TS_BIN/tapshare-companion" status --se "inproc:$T/se.state" --json 2>/dev/null)
echo "$status" | jq -c '.apps[] | {app_id, kind, provider}'
expect "SE holds a sim app from the operator" jq -e '.apps | map(select(.kind == "sim" and .provider == "operator")) | length == 1' <<<"$status"
expect "SE holds a bankid app from the bank" jq -e '.apps | map(select(.kind == "bankid" and .provider == "bank")) | length == 1' <<<"$status"
expect "SE holds a service app from the operator" jq -e '.apps | map(select(.kind == "service" and .provider == "operator")) | length == 1' <<<"$status"
expect "the operator decided twice (sim, service)" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e 'map(select(.function == \"confirmOrder\")) | length == 2' >/dev/null"
expect "the bank decided once (bank ID)" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/bank' --json | jq -e 'map(select(.function == \"confirmOrder\" and .app_id == \"bankid-alice\")) | length == 1' >/dev/null"
ts_done
