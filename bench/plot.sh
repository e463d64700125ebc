#!/usr/bin/env bash
# bench/plot.sh BUILD_DIR — S4->S6 latency percentiles and node CPU per flow
# against concurrency (issue 9: "a plot of latency percentiles and CPU per
# flow against concurrency, a PNG produced by the bench's own script").
#
# For each concurrency C in PLOT_CONC it runs bench/run.sh (a fresh node and
# provider on 127.0.0.1, the flow bench with C worker threads = C companions,
# the floor's call counting off so the node runs unhooked), takes every S4->S6
# sample (bench_flows writes them to BENCH_LATENCY_FILE), computes p50 / p90 /
# p99 by nearest rank, reads the node's CPU per flow and flows/s from
# bench_flows' summary, and the 1-minute load average before and after the
# row (the machine may be shared: the load is part of the figure). Then
# gnuplot (gnuplot-nox, pngcairo or png terminal) draws latency (left axis)
# and CPU per flow (right axis) against C into PLOT_OUT, and the table is
# printed in Markdown for the README.
#
# Environment (all optional):
#   PLOT_CONC    concurrencies           (default "1 2 4 8 16"; each 1..16)
#   PLOT_FLOWS   measured flows per row  (default 100)
#   PLOT_OUT     the PNG                 (default docs/bench-concurrency.png)
#   PLOT_DATA    the data table it plots (default: PLOT_OUT with .dat)
#   PLOT_DURATION limit per row, seconds (default 120)
#   PLOT_FROM    a data table from an earlier run: only redraw it
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
CONCS=${PLOT_CONC:-1 2 4 8 16}
FLOWS=${PLOT_FLOWS:-100}
OUT=${PLOT_OUT:-$ROOT/docs/bench-concurrency.png}
DATA=${PLOT_DATA:-${OUT%.png}.dat}
DURATION=${PLOT_DURATION:-120}
for v in $CONCS "$FLOWS" "$DURATION"; do
	[[ "$v" =~ ^[0-9]+$ ]] || { echo "plot.sh: error: PLOT_* values must be integers" >&2; exit 2; }
done
for c in $CONCS; do
	[ "$c" -ge 1 ] && [ "$c" -le 16 ] || { echo "plot.sh: error: PLOT_CONC values must be 1..16" >&2; exit 2; }
done
command -v gnuplot >/dev/null || { echo "plot.sh: error: gnuplot not installed (Debian: gnuplot-nox)" >&2; exit 2; }

W=$(mktemp -d "${TMPDIR:-/tmp}/tapshare-plot.XXXXXX")
trap 'rm -rf "$W"' EXIT
load1() { cut -d' ' -f1 /proc/loadavg; }

if [ -n "${PLOT_FROM:-}" ]; then
	cp "$PLOT_FROM" "$W/data" # redraw a table measured before
	FLOWS=$(awk '!/^#/ {print $9; exit}' "$W/data")
else
printf '# concurrency p50_ms p90_ms p99_ms node_cpu_ms_per_flow flows_per_s load_before load_after flows\n' >"$W/data"
for c in $CONCS; do
	echo "== concurrency $c, $FLOWS flows" >&2
	l0=$(load1)
	rc=0
	BENCH_MODE=flows BENCH_CONCURRENCY=$c BENCH_FLOWS=$FLOWS BENCH_COUNT=0 BENCH_DURATION=$DURATION \
		BENCH_LATENCY_FILE="$W/lat.$c" bash "$ROOT/bench/run.sh" "$BUILD" >"$W/run.$c" 2>&1 || rc=$?
	l1=$(load1)
	grep -E '^(flows completed|wall time|S4->S6|node CPU)' "$W/run.$c" | sed 's/^/#   /' >&2 || true
	if [ "$rc" != 0 ] || [ ! -s "$W/lat.$c" ]; then
		echo "plot.sh: error: the run at concurrency $c failed (exit $rc):" >&2
		tail -n 15 "$W/run.$c" >&2
		exit 1
	fi
	cpu=$(sed -n 's/^node CPU: .*total, \([0-9.]*\) ms per flow.*/\1/p' "$W/run.$c")
	fs=$(sed -n 's/^wall time .*, \([0-9.]*\) flows\/s.*/\1/p' "$W/run.$c")
	n=$(wc -l <"$W/lat.$c")
	# nearest rank, as bench_flows does: the k-th smallest, k = ceil(n * p)
	pct=$(sort -n "$W/lat.$c" | awk -v n="$n" '
		function rank(p,  k) { k = int((n * p + 999) / 1000); if (k < 1) k = 1; if (k > n) k = n; return k }
		{ v[NR] = $1 }
		END { printf "%.1f %.1f %.1f", v[rank(500)] / 1000, v[rank(900)] / 1000, v[rank(990)] / 1000 }')
	printf '%s %s %s %s %s %s %s %s\n' "$c" "$pct" "${cpu:-0}" "${fs:-0}" "$l0" "$l1" "$n" >>"$W/data"
done
fi
mkdir -p "$(dirname "$OUT")"
[ "$W/data" -ef "$DATA" ] || cp "$W/data" "$DATA"

term="pngcairo size 900,560 font 'DejaVu Sans,10'"
gnuplot -e "set terminal $term" -e 'quit' 2>/dev/null || term="png size 900,560"
loads=$(awk '!/^#/ {print $7; print $8}' "$DATA" | sort -n | sed -n '1p;$p' | paste -sd- -)
title="tapshare node, $(nproc) CPU(s), $(date -u +%Y-%m-%d), $FLOWS flows per point, SQLite WAL, every commit fdatasynced, load $loads"
gnuplot <<GP
set terminal $term
set output '$OUT'
set title "$title"
set xlabel 'concurrency (worker threads = companions)'
set logscale x 2
set xrange [0.8:20]
set xtics ($(echo "$CONCS" | tr ' ' '\n' | awk 'NF {printf "%s\"%s\" %s", s, $1, $1; s=", "}'))
set ylabel 'S4->S6 latency (ms)'
set y2label 'node CPU per flow (ms)'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key top left
set grid
plot '$DATA' using 1:2 with linespoints lw 2 pt 7 title 'S4->S6 p50', \
     '' using 1:3 with linespoints lw 2 pt 5 title 'S4->S6 p90', \
     '' using 1:4 with linespoints lw 2 pt 9 title 'S4->S6 p99', \
     '' using 1:5 axes x1y2 with linespoints lw 2 dt 2 pt 13 title 'node CPU per flow (right axis)'
GP
echo "== plot: $OUT (data $DATA)"
echo "| concurrency | S4->S6 p50 / p90 / p99 | node CPU per flow | flows/s | load (1 min) before / after |"
echo "|---|---|---|---|---|"
awk '!/^#/ { printf "| %s | %s / %s / %s ms | %s ms | %s | %s / %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$DATA"
