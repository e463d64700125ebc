#!/usr/bin/env bash
# Crash walk (crashlib.sh) of the move's release of the original after S15,
# and of a bank-ID share: install, the bank certifies the SE's key, the SE
# enables it (from commit 8: its first commits are the share flow's, which
# test_crash.sh walks).
. "$(dirname "$0")/crashlib.sh"
walk move move_prepare move_start move_done move_check
walk bank-ID bank_prepare bank_start bank_done bank_check_and_cancel 8
ts_done
