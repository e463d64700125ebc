#!/usr/bin/env bash
# Companion-initiated sharing (claims 20 and 33): the primary hands the
# companion a signed share offer over the sim link; the companion sends its
# EID and the offer to the node (POST /v1/companion/offers), which runs the
# same share path. Then every refusal of a bad offer, with its exact code:
# forged, expired, replayed, wrong app, unenrolled signer, too long-lived.
. "$(dirname "$0")/lib.sh"
ts_start_all

# (a) the whole flow
out=$(alice offer --app sim-alice --link "sim:$T/link.sock" --timeout 60 2>&1) || { echo "$out"; fail "offer completes"; }
echo "$out"
expect "S1: offer handed to the companion's EID" grep -q "S1 offer for sim-alice handed to $EID over sim:" <<<"$out"
expect "S5 first confirmation shown" grep -q "S5 first confirmation" <<<"$out"
expect "S6 second confirmation shown" grep -q "S6 second confirmation: installed in companion" <<<"$out"
expect "companion received the offer over the link" grep -q "S1 share offer for sim-alice received over the link" "$T/companion.log"
expect "companion sent the request (S4)" grep -q "S4 companion-initiated share request for sim-alice sent (offer from device" "$T/companion.log"
expect "companion got the first confirmation (S5)" grep -q "S5 first confirmation: EID received and correct" "$T/companion.log"
expect "node logged the offer redemption" grep -q "companion-initiated share request" "$T/node.log"

SHARE=$(alice shares --json | jq -r '.data | .shares[0].share_id')
expect "exactly one share" [ "$(alice shares --json | jq '.data | .shares | length')" = 1 ]
expect "node says installed" [ "$(node_state "$SHARE")" = installed ]
ALICE_DEV=$(awk -F' *= *' '$1 == "device_id" {print $2}' "$T/alice/primary.ini")
expect "the share is the offering device's" \
	[ "$(alice shares --json | jq -r '.data | .shares[0].device_id')" = "$ALICE_DEV" ]
ASSOC=$(alice shares --json | jq -r '.data | .shares[0].associated_app_id')
expect "the companion's SE holds the associated app" bash -c \
	"'$TS_BIN/tapshare-companion' status --se 'inproc:$T/se.state' --json 2>/dev/null | jq -e --arg a '$ASSOC' '.data | .apps | map(select(.app_id == \$a)) | length == 1' >/dev/null"

ts_api_session
ev=$("${ACURL[@]}" --max-time 3 -H "Authorization: Bearer $TOKEN" "$NODE_URL/v1/events?share=$SHARE" 2>/dev/null || true)
expect "the primary's events include share.installed" grep -q "^event: share.installed" <<<"$ev"
expect "the primary's events include share.eid_confirmed" grep -q "^event: share.eid_confirmed" <<<"$ev"

# --json gives the same outcome in one document
out=$(alice offer --app sim-alice --link "sim:$T/link.sock" --timeout 60 --json 2>/dev/null | jdata) || fail "offer --json completes"
expect "--json: result installed, EID, share.installed event" jq -e --arg e "$EID" \
	'.result == "installed" and .eid == $e and (.events | map(.event) | index("share.installed")) != null' <<<"$out" >/dev/null

# (b) refusals, each offer sent to the node directly with curl. EID2 is a
# valid companion that is not running, so accepted offers stay pending there.
# post_offer FILE [EID] -> "HTTP_STATUS BODY"
post_offer() {
	local eid=${2:-$EID2}
	"${CURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/companion/offers" \
		-H 'Content-Type: application/json' \
		-d "{\"eid\":\"$eid\",\"offer\":\"$(tr -d '\n' <"$1")\"}"
}
code_of() { head -n1 <<<"$1" | jq -r '.error.code // .share_id'; }
status_of() { tail -n1 <<<"$1"; }

alice offer --app sim-alice --print-offer "$T/good.b64" --eid "$EID2" >/dev/null
expect "--print-offer wrote a base64 offer" grep -qE '^[A-Za-z0-9+/]+=*$' "$T/good.b64"

# forged: one byte of the signed application id changed ("sim-alice" -> "sim-alicf")
base64 -d "$T/good.b64" | xxd -p | tr -d '\n' | sed 's/73696d2d616c696365/73696d2d616c696366/' |
	xxd -r -p | base64 -w0 >"$T/forged.b64"
expect "forged offer differs from the signed one" bash -c "! cmp -s '$T/good.b64' '$T/forged.b64'"
r=$(post_offer "$T/forged.b64")
expect "forged offer -> 403 offer_signature" [ "$(status_of "$r") $(code_of "$r")" = "403 offer_signature" ]

# expired
alice offer --app sim-alice --print-offer "$T/expired.b64" --eid "$EID2" --expires-at $(($(date +%s) - 10)) >/dev/null
r=$(post_offer "$T/expired.b64")
expect "expired offer -> 400 offer_expired" [ "$(status_of "$r") $(code_of "$r")" = "400 offer_expired" ]

# valid too long: the node caps offers at 3600 s (the CLI refuses --ttl above it)
alice offer --app sim-alice --print-offer "$T/long.b64" --eid "$EID2" --expires-at $(($(date +%s) + 7200)) >/dev/null
r=$(post_offer "$T/long.b64")
expect "offer living 2 h -> 400 bad_offer" [ "$(status_of "$r") $(code_of "$r")" = "400 bad_offer" ]
st=0; alice offer --app sim-alice --print-offer "$T/x.b64" --eid "$EID2" --ttl 3601 2>/dev/null || st=$?
expect "CLI refuses --ttl 3601 as bad usage (exit 2)" [ "$st" = 2 ]

# replayed: the same offer twice
r1=$(post_offer "$T/good.b64")
r2=$(post_offer "$T/good.b64")
expect "first use of the offer -> 201" [ "$(status_of "$r1")" = 201 ]
expect "first use gives the first confirmation" grep -q '"confirmation": *"EID received and correct"' <<<"$(head -n1 <<<"$r1")"
expect "replayed offer -> 409 offer_replayed" [ "$(status_of "$r2") $(code_of "$r2")" = "409 offer_replayed" ]
r3=$(post_offer "$T/good.b64" "$EID")
expect "replayed for another EID -> 403 offer_other_eid" [ "$(status_of "$r3") $(code_of "$r3")" = "403 offer_other_eid" ]

expect "the replays created nothing" [ "$(alice shares --json | jq --arg e "$EID2" '.data | [.shares[] | select(.eid == $e)] | length')" = 1 ]
# bound to the EID the primary read: an intercepted offer is of no use to
# another device, and stays good for the rightful companion
alice offer --app sim-alice --print-offer "$T/bound.b64" --eid "$EID2" >/dev/null
r=$(post_offer "$T/bound.b64" "$EID")
expect "offer for EID2 redeemed for EID -> 403 offer_other_eid" [ "$(status_of "$r") $(code_of "$r")" = "403 offer_other_eid" ]
r=$(post_offer "$T/bound.b64" "$EID2")
expect "... the same offer for its own EID -> 201" [ "$(status_of "$r")" = 201 ]
alice offer --app sim-alice --print-offer "$T/unbound.b64" >/dev/null
r=$(post_offer "$T/unbound.b64")
expect "an offer naming no EID -> 400 offer_unbound" [ "$(status_of "$r") $(code_of "$r")" = "400 offer_unbound" ]

# wrong app: Bob's app signed by Alice's device, Alice's app signed by Bob's device
alice offer --app sim-bob --print-offer "$T/wrong.b64" --eid "$EID2" >/dev/null
r=$(post_offer "$T/wrong.b64")
expect "another user's app -> 403 app_not_owned" [ "$(status_of "$r") $(code_of "$r")" = "403 app_not_owned" ]
bob offer --app sim-alice --print-offer "$T/bobs.b64" --eid "$EID2" >/dev/null
r=$(post_offer "$T/bobs.b64")
expect "Bob's device offering Alice's app -> 403 app_not_owned" [ "$(status_of "$r") $(code_of "$r")" = "403 app_not_owned" ]

alice offer --app svc-locked --print-offer "$T/locked.b64" --eid "$EID2" >/dev/null
r=$(post_offer "$T/locked.b64")
expect "not shareable -> 403 not_shareable" [ "$(status_of "$r") $(code_of "$r")" = "403 not_shareable" ]
alice offer --app nope --print-offer "$T/nope.b64" --eid "$EID2" >/dev/null
r=$(post_offer "$T/nope.b64")
expect "unknown app -> 404 unknown_app" [ "$(status_of "$r") $(code_of "$r")" = "404 unknown_app" ]
alice offer --app sim-alice --print-offer "$T/eid.b64" --eid "$EID2" >/dev/null
r=$(post_offer "$T/eid.b64" 89049032123451234512345678901234)
expect "bad EID check digits -> 400 eid_check_digits" [ "$(status_of "$r") $(code_of "$r")" = "400 eid_check_digits" ]

# a device the node never enrolled: a self-signed key and certificate (openssl)
M="$T/mallory"
mkdir -p "$M"
cp "$T/alice/primary.ini" "$T/alice/ca.crt" "$M/"
openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null | openssl pkcs8 -topk8 -nocrypt -out "$M/device.key"
openssl req -x509 -new -key "$M/device.key" -subj "/CN=mallory" -days 1 -out "$M/device.crt" 2>/dev/null
"$TS_BIN/tapshare" --home "$M" offer --app sim-alice --print-offer "$T/mallory.b64" --eid "$EID2" >/dev/null 2>&1 ||
	fail "an offer signed with a self-signed key can be made"
r=$(post_offer "$T/mallory.b64")
expect "offer from an unenrolled device -> 403 offer_untrusted" [ "$(status_of "$r") $(code_of "$r")" = "403 offer_untrusted" ]

# malformed requests
r=$("${CURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/companion/offers" -d "{\"eid\":\"$EID2\"}")
expect "no offer -> 400 bad_request" [ "$(status_of "$r") $(code_of "$r")" = "400 bad_request" ]
r=$("${CURL[@]}" -w '\n%{http_code}' -X POST "$NODE_URL/v1/companion/offers" -d "{\"eid\":\"$EID2\",\"offer\":\"AAAA\"}")
expect "garbage offer -> 400 bad_offer" [ "$(status_of "$r") $(code_of "$r")" = "400 bad_offer" ]

# through the companion: a refused offer is logged there with the node's code,
# and the primary's wait ends with a clear error
out=$(alice offer --app sim-bob --link "sim:$T/link.sock" --timeout 4 2>&1) && fail "refused offer: CLI exits 1" || ok "refused offer: CLI exits 1"
expect "refused offer: CLI says no share was started" grep -q "started no share for the offer" <<<"$out"
expect "refused offer: companion logs the node's code" \
	wait_log "$T/companion.log" "S5 the node refused the share request for sim-bob: HTTP 403 app_not_owned" 5

# a QR link cannot carry an offer back
out=$(alice offer --app sim-alice --link "qr:$T/none.png" --no-wait --timeout 2 2>&1) && fail "qr offer refused" || ok "qr offer refused"
expect "qr: says the link cannot carry it" grep -q "cannot carry an offer" <<<"$out"
ts_done
