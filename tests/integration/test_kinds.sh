#!/usr/bin/env bash
# Three kinds of security application through two providers at once (the node
# as broker, patent Fig. 5b): a SIM subscription from the operator, a bank-ID
# credential from the bank, a service credential from the operator.
. "$(dirname "$0")/lib.sh"
ts_start_all --bank

apps=$(alice apps --json | jdata)
expect "apps lists the bank-ID credential with its kind and provider" \
	jq -e '.apps | map(select(.app_id == "bankid-alice" and .kind == "bankid" and .provider == "bank")) | length == 1' <<<"$apps"
expect "apps lists the service credential" \
	jq -e '.apps | map(select(.app_id == "svc-parking" and .kind == "service")) | length == 1' <<<"$apps"

for app in sim-alice bankid-alice svc-parking; do
	out=$(alice share --link "sim:$T/link.sock" --app "$app" --timeout 60 2>&1) || { echo "$out"; fail "share $app"; }
	expect "$app: second confirmation" grep -q "S6 second confirmation" <<<"$out"
done

status=$("$TS_BIN/tapshare-companion" status --se "inproc:$T/se.state" --json 2>/dev/null | jdata)
echo "$status" | jq -c '.apps[] | {app_id, kind, provider}'
expect "SE holds a sim app from the operator" jq -e '.apps | map(select(.kind == "sim" and .provider == "operator")) | length == 1' <<<"$status"
expect "SE holds a bankid app from the bank" jq -e '.apps | map(select(.kind == "bankid" and .provider == "bank")) | length == 1' <<<"$status"
expect "SE holds a service app from the operator" jq -e '.apps | map(select(.kind == "service" and .provider == "operator")) | length == 1' <<<"$status"
# Each arrived as a TCA profile package (docs/protocol.md §4): the SIM with its
# USIM, the bank-ID account and the service token as credential-only packages.
expect "the SIM arrived as a profile package with a USIM" \
	grep -qE 'sim-[0-9]+: profile package 2\.3, ICCID [0-9]+, IMSI 00101[0-9]{10}, Milenage' "$T/companion.log"
expect "the bank-ID account arrived as a credential package" \
	grep -qE 'bankid-[0-9a-f]+: credential package 2\.3, ICCID [0-9]+, [0-9]+ bytes' "$T/companion.log"
expect "the service token arrived as a credential package" \
	grep -qE 'svc-[0-9a-f]+: credential package 2\.3, ICCID [0-9]+, [0-9]+ bytes' "$T/companion.log"
expect "the operator decided twice (sim, service)" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/sp' --json | jq -e '.data | map(select(.function == \"confirmOrder\")) | length == 2' >/dev/null"
expect "the bank decided once (bank ID)" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/bank' --json | jq -e '.data | map(select(.function == \"confirmOrder\" and .app_id == \"bankid-alice\")) | length == 1' >/dev/null"

# Bank ID: the companion's SE generated the key at install, the bank certified
# it, the SE stored the certificate and enabled the credential (§3 "Bank-ID apps").
BSHARE=$("$TS_BIN/tapshare-node" shares --dir "$T/node" --json 2>/dev/null |
	jq -r '.data | map(select(.app_id == "bankid-alice")) | .[0].share_id')
# share_events ID: the share's stored events as alice's phone sees them (the
# stream stays open, so curl ends at --max-time).
share_events() {
	curl -sS --max-time 5 --cacert "$T/pki/node-ca.crt" --cert "$T/alice/device.crt" \
		--key "$T/alice/device.key" "$NODE_URL/v1/events?share=$1" 2>/dev/null || true
}
expect "companion stored the bank's certificate and enabled the credential" \
	wait_log "$T/companion.log" "S14 bank-ID key of .* certified by the provider; credential enabled" 30
expect "node took the enable notification" wait_log "$T/node.log" "S15 share $BSHARE: .* with its certified key" 15
events=$(share_events "$BSHARE")
expect "the primary sees share.certified for the bank-ID share" grep -q "share.certified" <<<"$events"
status=$("$TS_BIN/tapshare-companion" status --se "inproc:$T/se.state" --json 2>/dev/null | jdata)
expect "the SE lists the bank-ID app enabled, its key certified" \
	jq -e '.apps | map(select(.kind == "bankid" and .enabled == true and .key_certified == true)) | length == 1' <<<"$status"
expect "the primary never sees the bank-ID key or certificate" bash -c \
	"! grep -qiE 'certificate\"|app_key|BEGIN' <<<\"\$1\"" _ "$events"
expect "the bank certified the key once" bash -c \
	"'$TS_BIN/tapshare-sp' decisions --dir '$T/bank' --json | jq -e '.data | map(select(.function == \"certifyKey\" and .decision == \"certified\")) | length == 1' >/dev/null"
ts_done
