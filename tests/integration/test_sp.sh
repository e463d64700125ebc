#!/usr/bin/env bash
# Integration test for tapshare-sp: a real provider on 127.0.0.1 (port chosen by
# the kernel), driven with the curl CLI over mutual TLS using a test PKI from
# `tapshare-node testpki`. Checks approve, deny list, idempotent repeat,
# cancelOrder, refusal of a client without certificate, the decision record,
# and a clean stop on SIGTERM.
# Needs: TS_BIN (build dir with tapshare-node and tapshare-sp), curl.
set -u

TS_BIN=${TS_BIN:?TS_BIN must point at the build directory}
SP="$TS_BIN/tapshare-sp"
NODE="$TS_BIN/tapshare-node"
EID_OK=89049032123451234512345678901235

TMP=$(mktemp -d /tmp/ts_it_sp.XXXXXX)
SP_PID=""
cleanup() {
	if [ -n "$SP_PID" ] && kill -0 "$SP_PID" 2>/dev/null; then
		kill "$SP_PID" 2>/dev/null
		wait "$SP_PID" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

fails=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
has() { grep -Eq -- "$1" <<<"$2"; }       # has REGEX TEXT
hasnt() { ! grep -Eq -- "$1" <<<"$2"; }   # hasnt REGEX TEXT
has_all() { # has_all TEXT REGEX...
	local t=$1
	shift
	for r in "$@"; do grep -Eq -- "$r" <<<"$t" || return 1; done
}
die() {
	echo "FATAL: $*"
	[ -f "$TMP/sp.log" ] && sed 's/^/  sp.log: /' "$TMP/sp.log"
	exit 1
}

# --- CLI basics -------------------------------------------------------------
check "--version" bash -c "'$SP' --version | grep -q '^tapshare-sp [0-9]'"
check "--help" bash -c "'$SP' --help | grep -q 'confirmOrder'"
for c in init run decisions; do
	check "$c --help" bash -c "'$SP' $c --help | grep -q '^Usage: tapshare-sp $c'"
	check "help $c" bash -c "'$SP' help $c | grep -q '^Usage: tapshare-sp $c'"
done
"$SP" frobnicate >/dev/null 2>&1
check "unknown command exits 2" test $? -eq 2
out=$(CONFIGURATION_DIRECTORY="$TMP/nowhere" "$SP" run 2>&1)
check "run without --dir reads the installed layout (\$CONFIGURATION_DIRECTORY/sp.ini) and exits 1" \
	test $? -eq 1
check "... naming the missing file" grep -q "$TMP/nowhere/sp.ini not found" <<<"$out"

# --- set-up -----------------------------------------------------------------
"$NODE" testpki "$TMP/pki" --eid "$EID_OK" 2>/dev/null || die "tapshare-node testpki failed"
"$SP" init --dir "$TMP/sp" --pki "$TMP/pki" --listen 127.0.0.1:0 >/dev/null ||
	die "tapshare-sp init failed"
for f in sp.ini policy.ini sp.db sp-tls.crt sp-tls.key node-ca.crt; do
	check "init wrote $f" test -f "$TMP/sp/$f"
done
check "sp-tls.key is private" test "$(stat -c %a "$TMP/sp/sp-tls.key")" = 600
check "default policy approves with max 86400" \
	grep -q '^max_duration_s = 86400' "$TMP/sp/policy.ini"
"$SP" init --dir "$TMP/sp" --pki "$TMP/pki" >/dev/null 2>&1
check "second init refused with exit 1" test $? -eq 1

# A second, valid EID for the deny list: 30 digits + ISO 7064 MOD 97-10 check
# digits (98 - (N * 100 mod 97)), computed with bash arithmetic in chunks.
mod97() { # mod97 DIGITS -> remainder
	local s=$1 r=0 chunk
	while [ -n "$s" ]; do
		chunk=${s:0:7}
		s=${s:7}
		r=$(((r * 10 ** ${#chunk} + 10#$chunk) % 97))
	done
	echo $r
}
BASE=890490320000000000000000000777
R=$(mod97 "${BASE}00")
CD=$((98 - R))
EID_DENY=$BASE$(printf '%02d' $CD)
check "computed EID is valid" test "$(mod97 "$EID_DENY")" -eq 1

cat >"$TMP/sp/policy.ini" <<EOF
[default]
decision = approve
max_duration_s = 86400
kind = sim

[app.bank1]
kind = bankid
name = Bank ID (watch)

[app.nope]
decision = deny

[deny]
eids = $EID_DENY
EOF

"$SP" run --dir "$TMP/sp" 2>"$TMP/sp.log" &
SP_PID=$!
PORT=""
for _ in $(seq 1 100); do
	if [ -s "$TMP/sp/sp.port" ]; then
		PORT=$(tr -d '\n' <"$TMP/sp/sp.port")
		break
	fi
	kill -0 "$SP_PID" 2>/dev/null || die "tapshare-sp run exited early"
	sleep 0.1
done
[ -n "$PORT" ] || die "no sp.port after 10 s"
check "log says listening" grep -q "listening on https://127.0.0.1:$PORT\$" "$TMP/sp.log"

URL="https://127.0.0.1:$PORT/gsma/rsp2/es2plus"
PKI="$TMP/pki"
post() { # post FUNCTION BODY -> prints "HTTPCODE BODY"; curl exit status kept
	curl -sS --max-time 10 --cacert "$PKI/node-ca.crt" --cert "$PKI/node-tls.crt" \
		--key "$PKI/node-tls.key" -H 'Content-Type: application/json' \
		-H 'X-Admin-Protocol: gsma/rsp/v2.5.0' -w '\n%{http_code}' \
		--data-binary "$2" "$URL/$1"
}
confirm_body() { # FCI EID APP DURATION
	printf '{"header":{"functionRequesterIdentifier":"tapshare-node","functionCallIdentifier":"%s"},"eid":"%s","appId":"%s","userId":"alice","shareId":"s-%s","requestedDurationS":%s}' \
		"$1" "$2" "$3" "$1" "$4"
}

# --- approve ----------------------------------------------------------------
OUT=$(post confirmOrder "$(confirm_body call-1 "$EID_OK" sim-primary 3600)") ||
	die "confirmOrder transport failed"
CODE=$(tail -n1 <<<"$OUT")
BODY1=$(head -n -1 <<<"$OUT")
check "approve: HTTP 200" test "$CODE" = 200
check "approve: Executed-Success" grep -q '"status":"Executed-Success"' <<<"$BODY1"
ICCID=$(sed -n 's/.*"iccid":"\([0-9]*\)".*/\1/p' <<<"$BODY1")
check "approve: 19-digit ICCID starting 8944" bash -c "[[ '$ICCID' =~ ^8944[0-9]{15}\$ ]]"
check "approve: associatedAppId sim-ICCID" grep -q "\"associatedAppId\":\"sim-$ICCID\"" <<<"$BODY1"
check "approve: kind sim" grep -q '"kind":"sim"' <<<"$BODY1"
check "approve: imsi and ki" has_all "$BODY1" '"imsi":"[0-9]{15}"' '"ki":"[0-9a-f]{32}"'
NA=$(sed -n 's/.*"notAfter":\([0-9]*\).*/\1/p' <<<"$BODY1")
NOW=$(date +%s)
check "approve: notAfter = now + 3600 (±60)" test "$NA" -ge $((NOW + 3540)) -a "$NA" -le $((NOW + 3660))

# --- idempotent repeat ------------------------------------------------------
OUT=$(post confirmOrder "$(confirm_body call-1 "$EID_OK" sim-primary 60)")
BODY2=$(head -n -1 <<<"$OUT")
check "repeat: HTTP 200" test "$(tail -n1 <<<"$OUT")" = 200
check "repeat: identical answer" test "$BODY1" = "$BODY2"

# --- bankid kind from policy -------------------------------------------------
OUT=$(post confirmOrder "$(confirm_body call-2 "$EID_OK" bank1 0)")
BODY=$(head -n -1 <<<"$OUT")
check "bankid: kind and name from policy" has_all "$BODY" '"kind":"bankid"' '"name":"Bank ID \(watch\)"'
check "bankid: certify_url" grep -q '"certify_url":"https://' <<<"$BODY"
NA=$(sed -n 's/.*"notAfter":\([0-9]*\).*/\1/p' <<<"$BODY")
check "bankid: notAfter = now + default max" test "$NA" -ge $((NOW + 86340))

# --- deny list and app denial -----------------------------------------------
OUT=$(post confirmOrder "$(confirm_body call-3 "$EID_DENY" sim-primary 60)")
BODY=$(head -n -1 <<<"$OUT")
check "deny list: HTTP 200" test "$(tail -n1 <<<"$OUT")" = 200
check "deny list: Failed 8.1/3.8" has_all "$BODY" '"status":"Failed"' '"subjectCode":"8\.1"' '"reasonCode":"3\.8"'
check "deny list: no credential" hasnt credential "$BODY"
OUT=$(post confirmOrder "$(confirm_body call-4 "$EID_OK" nope 60)")
check "app denied by policy" grep -q '"reasonCode":"3.8"' <<<"$OUT"

# --- bad EID and malformed --------------------------------------------------
OUT=$(post confirmOrder "$(confirm_body call-5 89049032123451234512345678901234 sim-primary 60)")
check "bad EID check digits: 8.1/2.1" has_all "$OUT" '"subjectCode":"8\.1"' '"reasonCode":"2\.1"'
OUT=$(post confirmOrder '{"eid":"x"}')
check "no header: HTTP 400" test "$(tail -n1 <<<"$OUT")" = 400
OUT=$(post confirmOrder '{"a":1,"a":2}')
check "duplicate keys: HTTP 400" test "$(tail -n1 <<<"$OUT")" = 400

# --- cancelOrder ------------------------------------------------------------
CBODY=$(printf '{"header":{"functionRequesterIdentifier":"tapshare-node","functionCallIdentifier":"cancel-1"},"eid":"%s","associatedAppId":"sim-%s","shareId":"s-call-1","finalProfileStatusIndicator":"Unavailable"}' "$EID_OK" "$ICCID")
OUT=$(post cancelOrder "$CBODY")
check "cancel: Executed-Success" grep -q '"status":"Executed-Success"' <<<"$OUT"
OUT=$(post cancelOrder "$CBODY")
check "cancel repeat: Executed-Success" grep -q '"status":"Executed-Success"' <<<"$OUT"

# --- transport security -----------------------------------------------------
curl -sS --max-time 10 --cacert "$PKI/node-ca.crt" -H 'Content-Type: application/json' \
	--data-binary "$(confirm_body call-6 "$EID_OK" sim-primary 60)" \
	-o /dev/null -w '%{http_code}' "$URL/confirmOrder" >"$TMP/nocert.out" 2>/dev/null
RC=$?
check "no client certificate: refused (curl exit $RC)" test $RC -ne 0
check "no client certificate: no HTTP answer" bash -c "[ \"\$(cat '$TMP/nocert.out')\" = 000 ] || [ ! -s '$TMP/nocert.out' ]"
# A certificate from another CA (the CI root's eUICC cert is not a TLS client cert of the node CA).
curl -sS --max-time 10 --cacert "$PKI/node-ca.crt" --cert "$PKI/euicc-$EID_OK.crt" \
	--key "$PKI/euicc-$EID_OK.key" --data-binary '{}' -o /dev/null "$URL/confirmOrder" 2>/dev/null
check "client certificate from another CA: refused" test $? -ne 0
# sp-tls.crt also chains to the node CA (as a phone's certificate would) but
# is not the pinned node key: 403, not recorded.
OUT=$(curl -sS --max-time 10 --cacert "$PKI/node-ca.crt" --cert "$PKI/sp-tls.crt" \
	--key "$PKI/sp-tls.key" -w '\n%{http_code}' \
	--data-binary "$(confirm_body call-7 "$EID_OK" sim-primary 60)" "$URL/confirmOrder")
check "client not in allowed_clients: 403" test "$(tail -n1 <<<"$OUT")" = 403
check "client not in allowed_clients: error code" has '"code":"client_not_allowed"' "$OUT"
check "init pinned the node key" grep -Eq '^allowed_clients = [0-9a-f]{64}$' "$TMP/sp/sp.ini"
OUT=$(curl -sS --max-time 10 --cacert "$PKI/node-ca.crt" --cert "$PKI/node-tls.crt" \
	--key "$PKI/node-tls.key" -o /dev/null -w '%{http_code}' "$URL/confirmOrder")
check "GET on confirmOrder: 405" test "$OUT" = 405

# --- decision record ----------------------------------------------------------
check "decisions: text lists call-1" bash -c "'$SP' decisions --dir '$TMP/sp' | grep -q 'call-1'"
DJ=$("$SP" decisions --dir "$TMP/sp" --json)
N=$(jq '[.data[] | select(has("functionCallIdentifier"))] | length' <<<"$DJ")
check "decisions --json: 6 recorded (4 confirm + bad EID + cancel; repeats add none)" test "$N" -eq 6
check "decisions: no secrets" hasnt '"ki"' "$DJ"
check "decisions: deny recorded" jq -e '.schema == 1 and (.data | map(select(.decision == "denied")) | length) > 0' <<<"$DJ"

# --- clean stop ----------------------------------------------------------------
kill -TERM "$SP_PID"
STOPPED=""
for _ in $(seq 1 50); do
	if ! kill -0 "$SP_PID" 2>/dev/null; then
		STOPPED=1
		break
	fi
	sleep 0.1
done
check "SIGTERM stops the server" test -n "$STOPPED"
wait "$SP_PID"
check "exit status 0 after SIGTERM" test $? -eq 0
SP_PID=""
check "sp.port removed" test ! -e "$TMP/sp/sp.port"

if [ "$fails" -ne 0 ]; then
	echo "$fails check(s) failed"
	sed 's/^/  sp.log: /' "$TMP/sp.log"
	exit 1
fi
echo "all checks passed"
