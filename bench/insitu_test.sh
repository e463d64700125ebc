#!/bin/sh
# bench/insitu_test.sh — bench/insitu.awk on made-up perf samples (no perf, no
# timing): each sample lands on the first primitive of the order whose entry
# point its stack holds, a provider call's own SSL_write and ts_httpc_json's
# own work on the provider call, the JSON inside ts_httpc_json on JSON,
# what holds none on "(no primitive)" (split into the log, the HTTP handlers,
# the event loop, the worker threads and the rest), and samples become us per flow as
# samples / freq / (sampled node CPU / node CPU per flow).
set -eu
AWKF=$(dirname "$0")/insitu.awk
T=$(mktemp -d /tmp/tapshare-insitu-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
printf '%s\n' "verify 4 50 200" "fsync 7 100 700" "sqlite_step 100 3 300" "pwrite 100 1 100" \
	"https_request 6 30 180" "sse_write 6 20 120" "https_call 2 50 100" \
	"json_parse 4 5 20" "json_dump 4 5 20" >"$T/floor.txt"
s() { printf 'tapshare-node 1\n'; for f in "$@"; do printf '\t%s (x)\n' "$f"; done; printf '\n'; }
{
	s ecdsa_verify pki_verify main       # verify
	s ecdsa_verify pki_verify main       # verify
	s ext4_sync_file fdatasync main      # fsync
	s memcpy sqlite3_step main           # sqlite
	s SSL_write curl_easy_perform main   # provider call, not tls_server
	s SSL_write on_request main          # tls_server
	s malloc on_request main             # no primitive
	s fdatasync pki_verify main          # fsync comes first in the order
	s do_sys_poll poll ts_httpc_json https_call main   # provider call (httpc's own wait)
	s json_loadb ts_json_parse ts_httpc_json main      # json, not the provider call
	s jb_put ts_jw_str store_share_text main # json: lib/json.c's writer
	s memcpy libjansson.so.4 emit_ac main # json: jansson (perf names the DSO)
	s ts_json_loads credential_profile main # json: the fast reader
	s write_all ts_log share_request gen_cb event_base_loop main # rest: the log (first)
	s malloc h_share_create gen_cb event_base_loop main         # rest: a handler
	s epoll_wait event_base_loop main                           # rest: the event loop
	s futex_wait worker_main start_thread                       # rest: a worker
} >"$T/stacks.txt"
# 17 samples at 1000 Hz = 17 ms of node CPU; 3.4 ms per flow: 5 flows in the
# window, 1 sample = 1 ms / 5 flows = 200 us per flow.
awk -v freq=1000 -v node_ms=3.4 -v floorf="$T/floor.txt" -f "$AWKF" "$T/stacks.txt" >"$T/out"
fail() { echo "insitu_test: $1" >&2; cat "$T/out" >&2; exit 1; }
row() { awk -v k="$1" '$1 == k {print $2, $3, $4}' "$T/out"; }
grep -q '^17 node samples = 5 flows in the window, 200.00 us' "$T/out" || fail "sample arithmetic"
[ "$(row verify)" = "200.0 400.0 2.00" ] || fail "verify row: $(row verify)"
[ "$(row fsync)" = "700.0 400.0 0.57" ] || fail "fsync row (first match wins): $(row fsync)"
[ "$(row sqlite)" = "400.0 200.0 0.50" ] || fail "sqlite row (steps + pwrite): $(row sqlite)"
[ "$(row provider_call)" = "100.0 400.0 4.00" ] || fail "provider call row: $(row provider_call)"
[ "$(row tls_server)" = "300.0 200.0 0.67" ] || fail "tls server row: $(row tls_server)"
[ "$(row json)" = "40.0 800.0 20.00" ] || fail "json row (jansson, ts_jw_, ts_json_loads, before the provider call): $(row json)"
grep -q '^(no primitive) *- *1000.0' "$T/out" || fail "rest row"
part() { awk -v k="$1" 'index($0, "  of it " k " ") == 1 {print $NF}' "$T/out"; }
for b in log handlers "event loop" workers other; do
	[ "$(part "$b")" = "200.0" ] || fail "rest split: $b $(part "$b")"
done
echo "insitu_test: ok"
