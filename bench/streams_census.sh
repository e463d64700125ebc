#!/usr/bin/env bash
# bench/streams_census.sh BUILD_DIR — what one idle authenticated event stream
# holds in the node (issue 9 item 2: "<= 20 kB per idle stream").
#
# On 127.0.0.1 in a fresh temporary directory: one node (SQLite), bob
# enrolled, then bench_streams holds CENSUS_STREAMS idle GET /v1/events
# streams (bob's device, mutual TLS). Two passes:
#   1. the plain node: its RSS before and with the streams, per stream, and
#      glibc's own view of the heap (malloc_info through gdb, when gdb is
#      installed: bytes in use vs. free inside the heap, per arena);
#   2. the node under heaptrack (CENSUS_HEAPTRACK=1, the default, when
#      heaptrack is installed): the node is killed (SIGKILL) while it holds
#      the streams, so heaptrack's "leaked" allocations are exactly what was
#      live then; the allocation sites live CENSUS_STREAMS/2 times or more
#      are printed as bytes and allocations per stream, grouped by the
#      frame that names the owner (libssl, libcrypto, libevent, jansson,
#      tapshare).
# Environment (all optional):
#   CENSUS_STREAMS    idle streams (default 10000, at most 18000)
#   CENSUS_RESUME     1 = every stream after the first resumes its TLS
#                     session (a ticket), 0 (default) = full handshakes
#   CENSUS_HEAPTRACK  1 (default) / 0: the heaptrack pass
#   CENSUS_KEEP       a directory to keep the heaptrack file in
#   CENSUS_PRELOAD    a malloc library (e.g. libjemalloc.so.2) LD_PRELOADed
#                     into the node for pass 1, to measure what another
#                     allocator makes of the same live bytes (glibc's view
#                     and the heaptrack pass are then skipped: they are
#                     glibc's and the same live bytes)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
export TS_BIN="$BUILD"
N=${CENSUS_STREAMS:-10000}
RESUME=
[ "${CENSUS_RESUME:-0}" = 1 ] && RESUME=--resume
HT=${CENSUS_HEAPTRACK:-1}
PRELOAD=${CENSUS_PRELOAD:-}
if [ -n "$PRELOAD" ]; then
	[ -r "$PRELOAD" ] || { echo "streams_census.sh: error: CENSUS_PRELOAD $PRELOAD not readable" >&2; exit 2; }
	HT=0
fi
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 100 ] && [ "$N" -le 18000 ] ||
	{ echo "streams_census.sh: error: CENSUS_STREAMS must be 100..18000" >&2; exit 2; }
for b in tapshare-node tapshare bench_streams; do
	[ -x "$BUILD/$b" ] || { echo "streams_census.sh: error: $BUILD/$b not built" >&2; exit 2; }
done
command -v heaptrack >/dev/null && command -v heaptrack_print >/dev/null || HT=0
. "$ROOT/tests/integration/lib.sh"

"$TS_BIN/tapshare-node" testpki "$T/pki" --eid "$EID" --ein 89049032 2>"$T/pki.log"
"$TS_BIN/tapshare-node" init --dir "$T/node" --pki "$T/pki" --listen 127.0.0.1:0 >"$T/node-init.log" 2>&1
BOB_CODE=$(printf '%s\n' "bob's passphrase 42" | "$TS_BIN/tapshare-node" user add bob --dir "$T/node" 2>>"$T/node-init.log")
printf '[limits]\nstreams_per_peer = 100000\n' >>"$T/node/node.ini"
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# start_node [WRAPPER...]: sets NODE_PID (the node itself, not the wrapper)
start_node() {
	rm -f "$T/node/node.port"
	if [ -n "$PRELOAD" ] && [ $# -eq 0 ]; then
		LD_PRELOAD="$PRELOAD" "$TS_BIN/tapshare-node" run --dir "$T/node" >>"$T/node.log" 2>&1 &
	else
		"$@" "$TS_BIN/tapshare-node" run --dir "$T/node" >>"$T/node.log" 2>&1 &
	fi
	local w=$!
	PIDS+=("$w")
	wait_file "$T/node/node.port" 60 || { tail "$T/node.log" >&2; exit 1; }
	NODE_PID=$w
	if [ $# -gt 0 ]; then
		NODE_PID=$(pgrep -P "$w" -x tapshare-node || true)
		[ -n "$NODE_PID" ] || { echo "streams_census.sh: error: no node under $1" >&2; exit 1; }
	fi
	NODE_PORT=$(cat "$T/node/node.port")
}
# hold_streams: opens N streams and waits until they are open; sets SPID
hold_streams() {
	rm -f "$T/streams.ready"
	"$TS_BIN/bench_streams" --port "$NODE_PORT" --ca "$T/pki/node-ca.crt" --cert "$T/bob/device.crt" \
		--key "$T/bob/device.key" --streams "$N" --ready-file "$T/streams.ready" $RESUME \
		--hold 3600 --open-timeout 900 2>>"$T/streams.log" &
	SPID=$!
	PIDS+=("$SPID")
	local i=0
	while [ ! -s "$T/streams.ready" ] && kill -0 "$SPID" 2>/dev/null && [ $i -lt 9000 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -s "$T/streams.ready" ] || { echo "streams_census.sh: error: streams did not open" >&2; tail -3 "$T/streams.log" >&2; exit 1; }
	# two node ticks (malloc_trim after many connections came, run.c)
	sleep 3
}
# warm: a few streams opened and closed first, so that one-time state
# (OpenSSL's provider caches, the store's statements) is not charged to the streams
warm() {
	"$TS_BIN/bench_streams" --port "$NODE_PORT" --ca "$T/pki/node-ca.crt" --cert "$T/bob/device.crt" \
		--key "$T/bob/device.key" --streams 64 --ready-file "$T/warm.ready" $RESUME --hold 1 \
		--open-timeout 60 2>>"$T/streams.log" || true
	sleep 2
}

echo "== tapshare streams_census: $N idle streams$([ -n "$RESUME" ] && echo ' (resumed TLS sessions)'), allocator $([ -n "$PRELOAD" ] && basename "$PRELOAD" || echo glibc), $(nproc) CPU(s), load $(cut -d' ' -f1-3 /proc/loadavg)"
start_node
bob enroll --node "https://127.0.0.1:$NODE_PORT" --ca "$T/pki/node-ca.crt" --code "$BOB_CODE" --name "census" \
	>"$T/enroll.log" 2>&1
warm
r0=$(rss_kb "$NODE_PID")
hold_streams
r1=$(rss_kb "$NODE_PID")
echo "pass 1 (plain node): RSS $r0 kB -> $r1 kB with $N streams: $(echo "scale=2; ($r1 - $r0) * 1024 / $N / 1000" | bc) kB per stream"
if [ -z "$PRELOAD" ] && command -v gdb >/dev/null; then
	gdb --batch-silent -n -p "$NODE_PID" -ex "call (int) malloc_info(0, (void *) fopen(\"$T/malloc_info.xml\", \"w\"))" \
		-ex 'call (int) fflush(0)' -ex detach >/dev/null 2>&1 || true
	if [ -s "$T/malloc_info.xml" ]; then
		# per heap: allocated (in use) = system - free; "rest" chunks sit in bins
		awk '/<heap nr=/ { h = $0; sub(/.*nr="/, "", h); sub(/".*/, "", h) }
			/<\/heap>/ { h = "all" }
			/<system type="current"/ { s = $0; sub(/.*size="/, "", s); sub(/".*/, "", s); sys[h] = s }
			/<total type="rest"/ { r = $0; sub(/.*size="/, "", r); sub(/".*/, "", r); rest[h] = r }
			/<total type="fast"/ { f = $0; sub(/.*size="/, "", f); sub(/".*/, "", f); fast[h] = f }
			END { for (k in sys) if (k != "all" && sys[k] > 1048576) printf "  malloc arena %s: %.1f MiB from the system, %.1f MiB of it free (fast %.1f, bins %.1f)\n",
				k, sys[k] / 1048576, (rest[k] + fast[k]) / 1048576, fast[k] / 1048576, rest[k] / 1048576 }' "$T/malloc_info.xml"
	fi
fi
kill "$SPID" 2>/dev/null || true
wait "$SPID" 2>/dev/null || true
ts_stop "$NODE_PID"
PIDS=()

[ "$HT" = 1 ] || exit 0
start_node heaptrack -o "$T/ht"
warm
hold_streams
kill -KILL "$NODE_PID"
for ((i = 0; i < 600 && $(ls "$T"/ht.*.zst "$T"/ht.*.gz 2>/dev/null | wc -l) == 0; i++)); do sleep 0.1; done
sleep 2
kill "$SPID" 2>/dev/null || true
wait "$SPID" 2>/dev/null || true
for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
PIDS=()
f=$(ls "$T"/ht.* | head -n 1)
[ -n "${CENSUS_KEEP:-}" ] && mkdir -p "$CENSUS_KEEP" && cp "$f" "$CENSUS_KEEP"/
heaptrack_print -f "$f" --print-leaks 1 --print-peaks 0 --print-allocators 0 --print-temporary 0 \
	--merge-backtraces 0 -n 1000000 -s 1000000 >"$T/leaks.txt" 2>/dev/null || true
[ -n "${CENSUS_KEEP:-}" ] && cp "$T/leaks.txt" "$CENSUS_KEEP"/
# Each leak record: "<bytes> leaked over <calls> calls from", then its frames
# ("  <function>" or "  0x<addr>", then "    in <lib>" / "    at <file>").
# Per stream = over the SSL objects live at the kill (the connections held).
python3 - "$T/leaks.txt" "$N" <<'EOF'
import re, sys
path, n = sys.argv[1], int(sys.argv[2])
unit = {'': 1, 'K': 1e3, 'M': 1e6, 'G': 1e9}
def size(s):
    m = re.match(r'([0-9.]+)([KMG]?)', s)
    return float(m.group(1)) * unit[m.group(2)] if m else 0.0
recs, cur = [], None
for line in open(path, errors='replace'):
    m = re.match(r'^(\S+) leaked over (\d+) calls from', line)
    if m:
        cur = [size(m.group(1)), int(m.group(2)), []]
        recs.append(cur)
    elif cur is None:
        continue
    elif line.startswith('  ') and not line.startswith('    '):
        cur[2].append(line.strip())
    elif line.startswith('    in ') and cur[2] and cur[2][-1].startswith('0x'):
        cur[2][-1] += '@' + line.strip()[3:].split('/')[-1].split('.so')[0]
    elif line.strip() == '':
        cur = None
ssl = max((r[1] for r in recs if any(f.startswith('SSL_new') for f in r[2][:2])), default=n)
live = [r for r in recs if r[1] >= ssl // 2]
print(f"pass 2 (heaptrack, node killed while holding {n} streams; {ssl} SSL objects live):"
      f" {sum(r[0] for r in recs) / 1e6:.1f} MB live in all; the sites live >= {ssl // 2} times:"
      f" {sum(r[0] for r in live) / ssl:.0f} B in {sum(r[1] for r in live) / ssl:.1f} allocations per stream")
def owner(fr):
    t = ' '.join(fr)
    if 'push_subscribe' in t:
        return 'tapshare (push.c)'
    if any(k in t for k in ('@libssl', 'SSL_new', 'EVP_', 'X509', 'ASN1', 'EC_', 'BN_', 'BIO_', '@libcrypto')):
        return 'OpenSSL (SSL object, session, peer certificate, keys, ciphers)'
    if any(k in t for k in ('evhttp', 'evbuffer', 'bufferevent', 'event_', '@libevent')):
        return 'libevent (bufferevent, evhttp connection and request)'
    return 'other'
groups = {}
for b, c, fr in live:
    g = groups.setdefault(owner(fr), [0, 0])
    g[0] += b
    g[1] += c
for k, (b, c) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
    print(f"  {k}: {b / ssl:.0f} B in {c / ssl:.1f} allocations per stream")
skip = {'malloc', 'calloc', 'realloc', 'CRYPTO_malloc', 'CRYPTO_zalloc', 'CRYPTO_realloc', 'CRYPTO_memdup',
        'CRYPTO_strdup', 'CRYPTO_strndup'}
print("| bytes per stream | allocations per stream | allocation site (first frames) |")
print("|---|---|---|")
for b, c, fr in sorted(live, key=lambda r: -r[0]):
    if b / ssl < 8:
        continue
    frames = [f for f in fr if f.split('@')[0] not in skip][:5]
    print(f"| {b / ssl:.0f} | {c / ssl:.2f} | {' < '.join(frames)} |")
EOF
