#!/usr/bin/env bash
# The companion's event stream (share ids, matchingIds) is readable only with
# a token the EID's secure element earned; streams are capped per EID and
# per peer. The real companion earns its token and the share flow works.
. "$(dirname "$0")/lib.sh"
ts_start_all
CURL=(curl -sS --max-time 20 --cacert "$T/pki/node-ca.crt")
events() { "${CURL[@]}" -o "$T/ev.out" -w '%{http_code}' "$@"; }
st=$(events "$NODE_URL/v1/companion/events?eid=$EID")
expect "no token -> 401 ($st)" [ "$st" = 401 ]
expect "... stream_token_required" grep -q stream_token_required "$T/ev.out"
st=$(events --max-time 5 -H "Authorization: Bearer $(printf "%064d" 0)" "$NODE_URL/v1/companion/events?eid=$EID" || true)
expect "unknown token -> 401 bad_stream_token ($st)" [ "$st" = 401 ] && grep -q bad_stream_token "$T/ev.out"
wait_log "$T/companion.log" "proved EID $EID" 10
expect "the companion's SE earned its stream token" grep -q "proved EID $EID" "$T/companion.log"
expect "the node logged the proof" grep -q "companion $EID proved its secure element" "$T/node.log"
out=$(alice share --eid "$EID" --app sim-alice --timeout 60 2>&1)
expect "share flow with an authenticated stream: installed" grep -q "S6 second confirmation" <<<"$out"

# Caps. Tokens as a proven SE would hold them, written straight into the
# store (the proof itself is tests/unit/node/test_stream_auth.c).
eid_for() { # 30-digit prefix -> EID with ISO 7064 MOD 97-10 check digits
	local p=$1 r=0 i
	for ((i = 0; i < 30; i++)); do r=$(((r * 10 + ${p:i:1}) % 97)); done
	r=$(((r * 100) % 97))
	printf '%s%02d' "$p" $((98 - r))
}
token_for() { # EID -> a fresh token, stored hashed for "companion:EID"
	local tok
	tok=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	sqlite3 "$T/node/node.db" "INSERT INTO tokens(token_hash, device_id, user_id, expires_at) VALUES(
		'$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)', 'companion:$1', 0, $(($(date +%s) + 600)))"
	printf '%s' "$tok"
}
E2TOK=$(token_for "$EID2")
st=$(events --max-time 2 -H "Authorization: Bearer $E2TOK" "$NODE_URL/v1/companion/events?eid=$EID" || true)
expect "EID2's token does not open EID's stream ($st)" [ "$st" = 401 ]
SPIDS=()
open_stream() { # EID TOKEN OUT
	"${CURL[@]}" -N --max-time 30 -H "Authorization: Bearer $2" "$NODE_URL/v1/companion/events?eid=$1" >"$3" 2>/dev/null &
	SPIDS+=($!)
	wait_log "$3" "stream open" 5
}
open_stream "$EID2" "$E2TOK" "$T/s1"
S1=${SPIDS[-1]}
open_stream "$EID2" "$E2TOK" "$T/s2"
open_stream "$EID2" "$E2TOK" "$T/s3"
i=0
while kill -0 "$S1" 2>/dev/null && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
expect "a third stream of one EID replaces the oldest (per-EID cap 2)" [ $i -lt 30 ]
# per peer: 32 companion streams from 127.0.0.1 (the companion's own, EID2's
# two, and more EIDs), then 429
n=3
k=0
while [ $n -lt 32 ]; do
	e=$(eid_for "$(printf '890490320000000000000000%06d' $k)")
	open_stream "$e" "$(token_for "$e")" "$T/p$k"
	n=$((n + 1)); k=$((k + 1))
done
e=$(eid_for "890490320000000000000000999999")
st=$(events --max-time 3 -H "Authorization: Bearer $(token_for "$e")" "$NODE_URL/v1/companion/events?eid=$e" || true)
expect "the 33rd companion stream from one address -> 429 ($st)" [ "$st" = 429 ]
for p in "${SPIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
ts_done
