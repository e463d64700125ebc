#!/usr/bin/env bash
# The admin listener (issue 10): /healthz, /readyz and Prometheus /metrics on
# plain HTTP off the public port, off unless [node] admin_listen is set; the
# exposition passes a strict format checker (promcheck.awk) and counts what
# happened.
source "$(dirname "$0")/lib.sh"
CHECK="$(dirname "$0")/promcheck.awk"

# The checker itself refuses broken expositions.
bad_doc() { ! printf '%b' "$1" | awk -f "$CHECK" >/dev/null; }
expect "checker: good document accepted" bash -c "printf '# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\\\\\\\"} 1\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n' | awk -f '$CHECK'"
expect "checker: no TYPE" bad_doc 'a 1\n'
expect "checker: bad escape" bad_doc '# TYPE a gauge\na{x="\\q"} 1\n'
expect "checker: duplicate series" bad_doc '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n'
expect "checker: +Inf != count" bad_doc '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 3\n'
expect "checker: decreasing buckets" bad_doc '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="2"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n'
expect "checker: no +Inf" bad_doc '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 3\nh_count 2\n'
expect "checker: not contiguous" bad_doc '# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x="y"} 1\n'
expect "checker: bad value" bad_doc '# TYPE a gauge\na one\n'

ts_pki
ts_start_sp
ts_init_node
# Without admin_listen there is no admin listener.
ts_start_node
expect "no admin listener unless admin_listen is set" test ! -e "$T/node/admin.port"
ts_stop "$NODE_PID"
sed -i 's/^log_level = info/log_level = info\nadmin_listen = 127.0.0.1:0/' "$T/node/node.ini"
ts_start_node
wait_file "$T/node/admin.port" 10
ADMIN="http://127.0.0.1:$(cat "$T/node/admin.port")"
ts_init_se
ts_start_companion
ts_enroll

expect "/healthz: 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/healthz")" = 200
expect "/healthz body" test "$(curl -s "$ADMIN/healthz")" = ok
expect "/readyz: 200" test "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/readyz")" = 200
expect "/readyz body" test "$(curl -s "$ADMIN/readyz")" = ready
expect "unknown admin path: 404" test "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/nope")" = 404
expect "the admin listener is plain HTTP, the public port is not" \
	bash -c "! curl -s --max-time 3 -o /dev/null 'http://127.0.0.1:$NODE_PORT/metrics'"
expect "the public port does not serve /metrics" \
	test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/pki/node-ca.crt" "$NODE_URL/metrics")" = 404

expect "a share completes" alice share --link "sim:$T/link.sock" --app sim-alice --timeout 60
curl -s -D "$T/metrics.h" "$ADMIN/metrics" >"$T/metrics.txt"
expect "/metrics content type is the text format 0.0.4" \
	grep -qi '^Content-Type: text/plain; version=0.0.4; charset=utf-8' "$T/metrics.h"
out=$(awk -f "$CHECK" "$T/metrics.txt" 2>&1)
expect "/metrics passes the strict format check" test -z "$out"
[ -n "$out" ] && echo "$out" | head -20
# Prometheus' own linter as well (promtool, Debian package prometheus)
if command -v promtool >/dev/null; then
	pout=$(promtool check metrics <"$T/metrics.txt" 2>&1) && pst=0 || pst=$?
	expect "/metrics passes promtool check metrics" test "$pst" = 0 -a -z "$pout"
	[ -n "$pout" ] && echo "$pout" | head -20
	expect "promtool itself refuses a broken exposition" \
		bash -c "! printf '# TYPE a_total counter\na_total{x=\"1\"} one\n' | promtool check metrics >/dev/null 2>&1"
else
	fail "promtool not installed (Debian package prometheus: scripts/bootstrap.sh)"
fi
expect "/metrics ends with a newline" test "$(tail -c1 "$T/metrics.txt" | od -An -c | tr -d ' ')" = '\n'
m() { grep -E "^$1 " "$T/metrics.txt" | awk '{print $2}'; }
expect "shares by state: 1 installed" test "$(m 'tapshare_shares\{state="installed"\}')" = 1
expect "provider calls: 1 confirmOrder executed" \
	test "$(m 'tapshare_provider_calls_total\{function="confirmOrder",result="executed"\}')" = 1
expect "step latency: one share reached S15 (installed)" \
	test "$(m 'tapshare_share_step_seconds_count\{state="installed"\}')" = 1
expect "step latency: and S13 (authorised)" \
	test "$(m 'tapshare_share_step_seconds_count\{state="authorised"\}')" = 1
expect "outbox: the confirmOrder row done" test "$(m 'tapshare_outbox_rows_total\{result="done"\}')" -ge 1
expect "outbox depth: nothing left pending after the flow" test "$(m 'tapshare_outbox_depth\{rows="pending"\}')" = 0
expect "open event streams: the companion's push channel at least" test "$(m tapshare_event_streams)" -ge 1
expect "TLS handshakes counted" test "$(m 'tapshare_tls_handshakes_total\{result="ok"\}')" -ge 3
expect "store commits timed" test "$(m tapshare_store_commit_seconds_count)" -ge 4
expect "build info carries the version" grep -q '^tapshare_build_info{version="[0-9.]*",revision="[^"]*"} 1$' "$T/metrics.txt"

# Keepalives (issue 9): an idle event stream gets a ": keepalive" comment
# after 15 s without a write, and the node counts each one it writes (so
# the streams bench can subtract their CPU). curl also checks the stream's
# chunked framing (a malformed chunk is its error 56, not the time limit 28).
curl -s "$ADMIN/metrics" >"$T/metrics.txt"
k0=$(m tapshare_event_stream_keepalives_total)
curl -sS -N --max-time 18 --cacert "$T/pki/node-ca.crt" --cert "$T/alice/device.crt" --key "$T/alice/device.key" \
	"$NODE_URL/v1/events" >"$T/stream.txt" 2>"$T/stream.err" && rc=0 || rc=$?
curl -s "$ADMIN/metrics" >"$T/metrics.txt"
got=$(grep -c '^: keepalive$' "$T/stream.txt" || true)
expect "an idle stream: curl reads it until its own time limit (28)" test "$rc" = 28
expect "an idle stream opens" grep -q '^: stream open$' "$T/stream.txt"
expect "an idle stream gets its keepalive within 18 s" test "$got" -ge 1
expect "keepalives counted: at least the ones curl read" \
	test "$(($(m tapshare_event_stream_keepalives_total) - k0))" -ge "$got"
# A refused TLS handshake is counted as failed.
before=$(m 'tapshare_tls_handshakes_total\{result="failed"\}')
curl -s --max-time 5 --tlsv1.0 --tls-max 1.1 -k "$NODE_URL/" >/dev/null 2>&1 || true
curl -s "$ADMIN/metrics" >"$T/metrics.txt"
expect "a TLS 1.1 client is refused and counted as a failed handshake" \
	test "$(m 'tapshare_tls_handshakes_total\{result="failed"\}')" -gt "$before"
# /readyz says 503 when the store does not answer (here: the outbox table,
# which the probe reads, renamed away under the running node), and 200 again
# once it does; /healthz (the process is alive) stays 200.
sqlite3 "$T/node/node.db" 'ALTER TABLE outbox RENAME TO outbox_away'
expect "/readyz: 503 while the store fails" test "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/readyz")" = 503
expect "/healthz: still 200 then" test "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/healthz")" = 200
sqlite3 "$T/node/node.db" 'ALTER TABLE outbox_away RENAME TO outbox'
expect "/readyz: 200 again once the store answers" test "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/readyz")" = 200
# A reload is counted.
kill -HUP "$NODE_PID"
wait_log "$T/node.log" "reloaded" 10
curl -s "$ADMIN/metrics" >"$T/metrics.txt"
expect "reloads counted" test "$(m 'tapshare_reloads_total\{result="ok"\}')" = 1
expect "/metrics still passes after more traffic" awk -f "$CHECK" "$T/metrics.txt"
ts_done
