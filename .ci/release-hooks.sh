#!/usr/bin/env bash
# CI step after `make test`: a Release build (TS_TEST_HOOKS off, its default)
# of the node only, and tests/release/test_hooks_off.sh against it (the other
# programs from the test build in build/). ~1-2 min on 2 cores: the node's
# sources at -O2, then one share flow.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc 2>/dev/null || echo 2)}
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
grep -q '^TS_TEST_HOOKS:BOOL=OFF$' build-release/CMakeCache.txt || {
	echo "release-hooks: TS_TEST_HOOKS is not OFF in the Release build" >&2
	exit 1
}
cmake --build build-release -j "$JOBS" --target tapshare-node
TS_BIN="$PWD/build" TS_RELEASE_BIN="$PWD/build-release" bash tests/release/test_hooks_off.sh
