#!/usr/bin/env bash
# A companion's card cannot be filled by strangers: it belongs to the user
# whose share it installed first, and the node refuses shares (and offers)
# from other users to it (403 companion_not_yours) until the operator
# releases it.
. "$(dirname "$0")/lib.sh"
ts_start_all
CURL=(curl -sS --max-time 20 --cacert "$T/pki/node-ca.crt")
BC=("${CURL[@]}" --cert "$T/bob/device.crt" --key "$T/bob/device.key")
BTOKEN=$("${BC[@]}" -X POST "$NODE_URL/v1/session" -d "{\"passphrase\":\"bob's passphrase 42\"}" | jq -r .token)
bob_share() { # EID -> "STATUS CODE"
	local r
	r=$("${BC[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/shares" -H "Authorization: Bearer $BTOKEN" \
		-H "Idempotency-Key: k$RANDOM$RANDOM" -d "{\"eid\":\"$1\",\"app_id\":\"sim-bob\"}")
	echo "$(tail -n1 <<<"$r") $(head -n1 <<<"$r" | jq -r '.error.code // .share_id')"
}
out=$(alice share --eid "$EID" --app sim-alice --timeout 60 2>&1)
expect "alice's share installs on her companion" grep -q "S6 second confirmation" <<<"$out"
r=$(bob_share "$EID")
expect "bob's share to alice's companion -> 403 companion_not_yours ($r)" [ "$r" = "403 companion_not_yours" ]
bob offer --app sim-bob --print-offer "$T/bob.b64" --eid "$EID" >/dev/null
r=$("${CURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/companion/offers" -H 'Content-Type: application/json' \
	-d "{\"eid\":\"$EID\",\"offer\":\"$(tr -d '\n' <"$T/bob.b64")\"}")
expect "bob's offer redeemed at alice's companion -> 403 companion_not_yours" \
	[ "$(tail -n1 <<<"$r") $(head -n1 <<<"$r" | jq -r .error.code)" = "403 companion_not_yours" ]
out=$(alice share --eid "$EID" --app sim-alice --no-wait 2>&1)
expect "alice may still share to her own companion" grep -q "S5 first confirmation" <<<"$out"
r=$(bob_share "$EID2")
expect "bob may share to a companion nobody owns ($r)" [ "${r%% *}" = 201 ]
expect "the operator releases alice's companion" \
	"$TS_BIN/tapshare-node" companion release "$EID" --dir "$T/node"
r=$(bob_share "$EID")
expect "after the release bob's share is accepted ($r)" [ "${r%% *}" = 201 ]
ts_done
