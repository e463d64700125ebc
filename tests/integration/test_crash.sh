#!/usr/bin/env bash
# Crash walk (crashlib.sh) of a share (S11..S15) and of a share the companion
# redeems from the primary's offer (claims 20/33), and the named point
# between a provider's answer and the node's record of it (outbox.answered).
# The other flows: test_crash_cancel.sh (cancel, expiry), test_crash_move.sh
# (move release, bank-ID certification).
. "$(dirname "$0")/crashlib.sh"
walk share noop share_start share_done share_check
walk offer offer_prepare offer_start share_done share_check 1 3

# ---- between the provider's answer and the node's record of it --------------
restart_node outbox.answered
before=$(nshares)
SH=$(api POST /v1/shares "answered" "{\"eid\":\"$EID\",\"app_id\":\"sim-alice\"}" | jq -r .share_id)
expect "node died after the provider answered" until_ok 20 bash -c "! kill -0 $NODE_PID"
wait "$NODE_PID" 2>/dev/null || true
restart_node
expect "after the restart the share completes" until_ok 30 share_done x
expect "the repeated confirmOrder (same identifier) was decided once" share_check x
ts_done
