#!/usr/bin/env bash
# The account owner's web page (issue 10 item 4, src/node/web.c):
#  1. in headless chromium (tests/integration/web_browser.py): sign in, a share
#     made by the CLI appears installed (live, over the event stream) with its
#     steps, cancel it from the page, it shows revoked; screenshots kept in
#     $TS_BIN/test-artifacts/;
#  2. with curl: security headers and cookie flags, CSRF refused (403) when
#     missing or wrong on every POST, another account's share and device
#     refused, logout ends the session on the node, a session bound to a
#     device certificate, the login throttle, and (restart with
#     web_session_s = 3) an expired session is 401.
. "$(dirname "$0")/lib.sh"
ts_start_all

ART="$TS_BIN/test-artifacts"
mkdir -p "$ART"
rm -f "$ART"/owner-page-*.png "$ART"/share-cmd.log "$ART"/chromium.log
CA="$T/pki/node-ca.crt"
C() { curl -sS --cacert "$CA" --max-time 30 "$@"; }

# ---- 1. the browser ---------------------------------------------------------------
for tool in chromium python3 openssl; do
	command -v "$tool" >/dev/null || { fail "$tool is missing (scripts/bootstrap.sh installs it)"; ts_done; exit 1; }
done
SPKI=$(openssl x509 -in "$T/pki/node-tls.crt" -pubkey -noout | openssl pkey -pubin -outform der |
	openssl dgst -sha256 -binary | base64)
SHARE_CMD="'$TS_BIN/tapshare' --home '$T/alice' share --link 'sim:$T/link.sock' --app sim-alice --timeout 180"
if out=$(CI=true timeout 450 python3 "$(dirname "$0")/web_browser.py" --url "$NODE_URL/owner/" --spki "$SPKI" \
	--user alice --passphrase "$PASS" --share-cmd "$SHARE_CMD" --out "$ART" --timeout 420 2>"$T/browser.log"); then
	ok "browser: signed in, the CLI's share appeared installed live, cancelled from the page, shown revoked"
else
	cat "$ART/share-cmd.log" 2>/dev/null || true
	fail "browser test"
fi
cat "$T/browser.log"
SHARE=$(sed -n 's/^share //p' <<<"$out")
expect "the share the page cancelled is revoked on the node" [ "$(node_state "$SHARE")" = revoked ]
expect "screenshot of the installed share kept" test -s "$ART/owner-page-installed.png"
expect "screenshot of the revoked share kept" test -s "$ART/owner-page-revoked.png"
expect "the node logged the page's cancel" grep -q "owner page: share $SHARE cancelled by its user" "$T/node.log"

# ---- 2. curl ------------------------------------------------------------------------
# pre_session: a fresh pre-session cookie (PRE) and its CSRF token (PCSRF)
pre_session() {
	C -D "$T/h" -o "$T/b" "$NODE_URL/owner/api/session"
	PRE=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-tapshare_pre=\([0-9a-f]*\);.*/\1/p' "$T/h" | tr -d '\r')
	PCSRF=$(jq -r .csrf "$T/b")
}
# login USER PASS [curl args]: SESS, SCSRF; status in ST, headers in $T/h
login() {
	local u=$1 p=$2
	shift 2
	pre_session
	ST=$(C "$@" -D "$T/h" -o "$T/b" -w '%{http_code}' -H "Cookie: __Host-tapshare_pre=$PRE" \
		-H "X-CSRF-Token: $PCSRF" -H 'Content-Type: application/json' \
		--data "$(jq -nc --arg u "$u" --arg p "$p" '{user: $u, passphrase: $p}')" "$NODE_URL/owner/api/login")
	SESS=$(sed -n 's/^[Ss]et-[Cc]ookie: __Host-tapshare_session=\([0-9a-f]*\);.*/\1/p' "$T/h" | tr -d '\r')
	SCSRF=$(jq -r '.csrf // empty' "$T/b")
}
# post PATH COOKIE CSRF [curl args] -> status (body in $T/b)
post() {
	local path=$1 ck=$2 tok=$3
	shift 3
	C "$@" -o "$T/b" -w '%{http_code}' -H "Cookie: __Host-tapshare_session=$ck" ${tok:+-H "X-CSRF-Token: $tok"} \
		-H 'Content-Type: application/json' --data '{}' "$NODE_URL/owner/api/$path"
}
# get PATH COOKIE [curl args] -> status (body in $T/b)
get() {
	local path=$1 ck=$2
	shift 2
	C "$@" -o "$T/b" -w '%{http_code}' ${ck:+-H "Cookie: __Host-tapshare_session=$ck"} "$NODE_URL/owner/api/$path"
}

C -D "$T/h" -o "$T/index.html" "$NODE_URL/owner/"
expect "page: CSP allows scripts from the node only" grep -qi "^content-security-policy: .*script-src 'self'" "$T/h"
expect_fail "page: CSP has no unsafe-inline" grep -qi "unsafe-inline" "$T/h"
expect "page: frames refused" grep -qi "^content-security-policy: .*frame-ancestors 'none'" "$T/h"
expect_fail "page: no inline script" grep -qiE '<script( [^>]*)?>[^<]' "$T/index.html"
expect_fail "page: no script without src" bash -c "grep -oiE '<script[^>]*>' '$T/index.html' | grep -vq 'src='"
for f in app.js app.css; do
	expect "page: $f served with its type" bash -c "C() { curl -sS --cacert '$CA' \"\$@\"; }; \
		C -D - -o /dev/null '$NODE_URL/owner/$f' | grep -qiE '^content-type: text/(javascript|css)'"
done

# wrong_token T: T with its last hex digit changed (never equal to T)
wrong_token() { case "${1: -1}" in 0) echo "${1%?}1" ;; *) echo "${1%?}0" ;; esac; }
pre_session
expect "pre-session cookie: HttpOnly; Secure; SameSite=Strict; Path=/" \
	grep -qiE '^set-cookie: __Host-tapshare_pre=[0-9a-f]{64}; Path=/; Secure; HttpOnly; SameSite=Strict' "$T/h"
# login without / with a wrong / with another cookie's CSRF token
body=$(jq -nc --arg p "$PASS" '{user: "alice", passphrase: $p}')
st=$(C -o "$T/b" -w '%{http_code}' -H "Cookie: __Host-tapshare_pre=$PRE" -H 'Content-Type: application/json' \
	--data "$body" "$NODE_URL/owner/api/login")
expect "login without X-CSRF-Token: 403" [ "$st" = 403 ]
expect "  ... and no session cookie" bash -c "! grep -qi 'tapshare_session' '$T/b'"
st=$(C -o "$T/b" -w '%{http_code}' -H "Cookie: __Host-tapshare_pre=$PRE" -H "X-CSRF-Token: $(wrong_token "$PCSRF")" \
	-H 'Content-Type: application/json' --data "$body" "$NODE_URL/owner/api/login")
expect "login with a wrong X-CSRF-Token: 403" [ "$st" = 403 ]
OLDPRE=$PRE OLDCSRF=$PCSRF
pre_session
st=$(C -o "$T/b" -w '%{http_code}' -H "Cookie: __Host-tapshare_pre=$PRE" -H "X-CSRF-Token: $OLDCSRF" \
	-H 'Content-Type: application/json' --data "$body" "$NODE_URL/owner/api/login")
expect "login with another pre-session's token: 403" [ "$st" = 403 ]
st=$(C -o "$T/b" -w '%{http_code}' -H "X-CSRF-Token: $OLDCSRF" -H 'Content-Type: application/json' \
	--data "$body" "$NODE_URL/owner/api/login")
expect "login with a token but no pre-session cookie: 403" [ "$st" = 403 ]

login alice "not the passphrase"
expect "wrong passphrase: 401" [ "$ST" = 401 ]
expect "  ... and no session cookie" [ -z "$SESS" ]
login nobody "$PASS"
expect "unknown account: 401 (as a wrong passphrase)" [ "$ST" = 401 ]
login alice "$PASS"
expect "alice signs in: 200" [ "$ST" = 200 ]
ALICE=$SESS ALICE_CSRF=$SCSRF
expect "session cookie: __Host- prefix, 64 hex digits" [ "${#ALICE}" = 64 ]
expect "session cookie: HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age" \
	grep -qiE '^set-cookie: __Host-tapshare_session=[0-9a-f]{64}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=[0-9]+' "$T/h"
expect "the session is stored hashed, never as sent" bash -c \
	"! sqlite3 -cmd '.timeout 10000' '$T/node/node.db' 'SELECT token_hash FROM tokens' | grep -q '$ALICE' && \
	 sqlite3 -cmd '.timeout 10000' '$T/node/node.db' \"SELECT count(*) FROM tokens WHERE device_id='web'\" | grep -qx '[1-9][0-9]*'"

expect "state with the session: 200" [ "$(get state "$ALICE")" = 200 ]
expect "  ... alice's devices and shares, with history" \
	jq -e --arg s "$SHARE" '.user == "alice" and (.devices | length) == 1 and
		(.shares | map(select(.share_id == $s)) | .[0].history | map(.type) | index("share.installed") != null)' "$T/b"
ALICE_DEV=$(jq -r '.devices[0].device_id' "$T/b")
expect "state without a session: 401" [ "$(get state "")" = 401 ]
expect "state with an unknown session: 401" [ "$(get state "$(printf '%064d' 7)")" = 401 ]
expect "state with the pre-session cookie as a session: 401" [ "$(get state "$PRE")" = 401 ]
expect "events without a session: 401" [ "$(get events "")" = 401 ]

# CSRF on every POST with a session
expect "cancel without X-CSRF-Token: 403" [ "$(post "shares/$SHARE/cancel" "$ALICE" "")" = 403 ]
expect "cancel with a wrong X-CSRF-Token: 403" [ "$(post "shares/$SHARE/cancel" "$ALICE" "$(wrong_token "$ALICE_CSRF")")" = 403 ]
expect "cancel with the login token: 403" [ "$(post "shares/$SHARE/cancel" "$ALICE" "$PCSRF")" = 403 ]
expect "cancel cross-site (Sec-Fetch-Site): 403" \
	[ "$(post "shares/$SHARE/cancel" "$ALICE" "$ALICE_CSRF" -H 'Sec-Fetch-Site: cross-site')" = 403 ]
expect "revoke without X-CSRF-Token: 403" [ "$(post "devices/$ALICE_DEV/revoke" "$ALICE" "")" = 403 ]
expect "  ... the device is still active" [ "$(get state "$ALICE")" = 200 ]
expect "  ... (state says so)" jq -e '.devices[0].revoked_at == 0' "$T/b"
expect "logout without X-CSRF-Token: 403" [ "$(post logout "$ALICE" "")" = 403 ]
expect "  ... the session still works" [ "$(get state "$ALICE")" = 200 ]
expect "cancel with the right token reaches the service (already revoked: 409)" \
	[ "$(post "shares/$SHARE/cancel" "$ALICE" "$ALICE_CSRF")" = 409 ]

# another account's share and device
login bob "bob's passphrase 42"
BOB=$SESS BOB_CSRF=$SCSRF
expect "bob signs in" [ "$ST" = 200 ]
expect "bob's state has no share of alice's" bash -c "[ \"\$(curl -sS --cacert '$CA' -H 'Cookie: __Host-tapshare_session=$BOB' \
	'$NODE_URL/owner/api/state' | jq '.shares | length')\" = 0 ]"
expect "bob cancelling alice's share: refused (404 unknown_share)" \
	[ "$(post "shares/$SHARE/cancel" "$BOB" "$BOB_CSRF")" = 404 ]
expect "  ... code unknown_share" jq -e '.error.code == "unknown_share"' "$T/b"
expect "bob revoking alice's device: refused (404)" [ "$(post "devices/$ALICE_DEV/revoke" "$BOB" "$BOB_CSRF")" = 404 ]
expect "  ... alice's device still active" bash -c "curl -sS --cacert '$CA' -H 'Cookie: __Host-tapshare_session=$ALICE' \
	'$NODE_URL/owner/api/state' | jq -e '.devices[0].revoked_at == 0' >/dev/null"
expect "bob's CSRF token with alice's session: 403" [ "$(post logout "$ALICE" "$BOB_CSRF")" = 403 ]

# logout ends the session on the node, not only in the browser
expect "logout: 200" [ "$(post logout "$BOB" "$BOB_CSRF")" = 200 ]
expect "  ... the cookie is cleared (Max-Age=0)" bash -c "curl -sS --cacert '$CA' -D - -o /dev/null \
	-H 'Cookie: __Host-tapshare_session=$ALICE' -H 'X-CSRF-Token: $ALICE_CSRF' -H 'Content-Type: application/json' \
	--data '{}' '$NODE_URL/owner/api/logout' | grep -qiE '^set-cookie: __Host-tapshare_session=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0'"
expect "  ... the old session cookie is refused: 401" [ "$(get state "$BOB")" = 401 ]
expect "  ... alice's (logged out above) too: 401" [ "$(get state "$ALICE")" = 401 ]

# a browser with a device certificate
DEVC=(--cert "$T/alice/device.crt" --key "$T/alice/device.key")
login bob "bob's passphrase 42" "${DEVC[@]}"
expect "alice's device certificate signing in as bob: 403" [ "$ST" = 403 ]
expect "  ... code device_other_user" jq -e '.error.code == "device_other_user"' "$T/b"
login alice "$PASS" "${DEVC[@]}"
expect "alice with her device certificate signs in" [ "$ST" = 200 ]
expect "  ... the session is bound to the device" [ "$(get state "$SESS" "${DEVC[@]}")" = 200 ]
expect "  ... (state names it)" jq -e --arg d "$ALICE_DEV" '.device_id == $d' "$T/b"
expect "  ... and refused without the certificate: 401" [ "$(get state "$SESS")" = 401 ]
expect "  ... the revocation from the page needs the token too: 403" \
	[ "$(post "devices/$ALICE_DEV/revoke" "$SESS" "" "${DEVC[@]}")" = 403 ]
expect "alice revokes her device from the page: 200" \
	[ "$(post "devices/$ALICE_DEV/revoke" "$SESS" "$SCSRF" "${DEVC[@]}")" = 200 ]
expect "  ... the CLI is refused now" bash -c "! '$TS_BIN/tapshare' --home '$T/alice' shares >/dev/null 2>&1"
expect "  ... and the device-bound session ends: 403" [ "$(get state "$SESS" "${DEVC[@]}")" = 403 ]

# the login throttle (auth.c's): 5 attempts per address in the window
for i in 1 2 3 4 5; do login bob "wrong $i"; done
expect "5th wrong passphrase: 401" [ "$ST" = 401 ]
login bob "bob's passphrase 42"
expect "6th attempt from this address, even the right passphrase: 429" [ "$ST" = 429 ]
expect "  ... with Retry-After" grep -qi '^retry-after: [0-9]' "$T/h"

# expiry: restart with a 3 s session (the throttle's window forgotten while
# the node is down, so the database is not busy)
ts_stop "$NODE_PID"
sed -i 's/^\[node\]$/[node]\nweb_session_s = 3/' "$T/node/node.ini"
"$TS_BIN/tapshare-node" check --dir "$T/node" >"$T/check.log" 2>&1 || fail "node.ini with web_session_s passes check"
sqlite3 -cmd ".timeout 10000" "$T/node/node.db" "DELETE FROM pass_throttle" || fail "throttle reset"
ts_start_node
login alice "$PASS"
expect "alice signs in (3 s sessions)" [ "$ST" = 200 ]
expect "  ... Max-Age=3" grep -qi '^set-cookie: __Host-tapshare_session=.*Max-Age=3$' <(tr -d '\r' <"$T/h")
expect "  ... fresh session: 200" [ "$(get state "$SESS")" = 200 ]
sleep 4.2
expect "expired session: 401" [ "$(get state "$SESS")" = 401 ]
expect "  ... code session_expired" jq -e '.error.code == "session_expired"' "$T/b"
expect "  ... and a POST with it: 401" [ "$(post "shares/$SHARE/cancel" "$SESS" "$SCSRF")" = 401 ]
sed -i 's/^web_session_s = 3$/web_session_s = 0/' "$T/node/node.ini"
expect_fail "check refuses web_session_s = 0" "$TS_BIN/tapshare-node" check --dir "$T/node"
ts_done
