#!/usr/bin/env bash
# Every program's --version comes from the build: the project version in
# CMakeLists.txt and the git revision of the source tree (issue 10).
source "$(dirname "$0")/lib.sh"
SRC=${TS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
want=$(sed -n 's/^project(tapshare VERSION \([0-9.]*\) .*/\1/p' "$SRC/CMakeLists.txt")
[ -n "$want" ] || { fail "cannot read the project version from CMakeLists.txt"; ts_done; exit; }
rev=unknown
if git -C "$SRC" rev-parse HEAD >/dev/null 2>&1; then
	rev=$(git -C "$SRC" rev-parse --short=12 HEAD)
fi
for p in tapshare-node tapshare-sp tapshare-se tapshare tapshare-companion; do
	out=$("$TS_BIN/$p" --version)
	case "$out" in
	"$p $want (git $rev)" | "$p $want (git $rev-dirty)") ok "$p --version: $out" ;;
	*) fail "$p --version printed '$out', want '$p $want (git $rev[-dirty])'" ;;
	esac
done
ts_done
