#!/usr/bin/env bash
# Crash walk (crashlib.sh) of the flows that end a share: the user's cancel
# (S16, S17) and the expiry by the node's own tick.
. "$(dirname "$0")/crashlib.sh"
walk cancel cancel_prepare cancel_start cancel_done cancel_check
walk expiry expiry_prepare expiry_start expiry_done expiry_check
ts_done
