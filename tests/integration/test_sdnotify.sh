#!/usr/bin/env bash
# Type=notify (issue 10): the node and the provider tell the service manager
# READY=1 once they accept connections, RELOADING=1 + MONOTONIC_USEC and
# READY=1 again around a SIGHUP reload, STOPPING=1 on SIGTERM — over
# $NOTIFY_SOCKET, read here by tests/helpers/notify_listen.
source "$(dirname "$0")/lib.sh"
ts_pki
"$TS_BIN/notify_listen" "$T/notify.sock" 60 >"$T/notify.out" 2>"$T/notify.err" &
LPID=$!
PIDS+=("$LPID")
i=0; while [ ! -S "$T/notify.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
export NOTIFY_SOCKET="$T/notify.sock"
ts_start_sp
ts_init_node
ts_start_node
expect "node: READY=1 once listening" wait_log "$T/notify.out" "^READY=1\|STATUS=serving$" 10
n_ready() { grep -c '^READY=1' "$T/notify.out"; }
expect "provider and node both said READY=1" test "$(n_ready)" -eq 2
kill -HUP "$NODE_PID"
expect "node: RELOADING=1 with MONOTONIC_USEC on SIGHUP" wait_log "$T/notify.out" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$' 10
expect "node: READY=1 again after the reload" bash -c "for i in \$(seq 50); do [ \$(grep -c '^READY=1' '$T/notify.out') -ge 3 ] && exit 0; sleep 0.1; done; exit 1"
kill -HUP "$SP_PID"
expect "provider: RELOADING=1 on SIGHUP" wait_log "$T/notify.out" '^RELOADING=1.*' 10
ts_stop "$NODE_PID"
ts_stop "$SP_PID"
expect "STOPPING=1 from both on SIGTERM" bash -c "for i in \$(seq 50); do [ \$(grep -c '^STOPPING=1' '$T/notify.out') -ge 2 ] && exit 0; sleep 0.1; done; exit 1"
unset NOTIFY_SOCKET
ts_done
