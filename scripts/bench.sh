#!/bin/sh
# bench.sh - build the benchmarks as users get libpce (no assertions, no
# sanitizer, mimalloc) and run the suite; rewrites docs/benchmarks.md, the
# charts in docs/bench/ and the JSON lines docs/bench/PRESET.jsonl.
#
# Usage: scripts/bench.sh [quick|full] [pce_bench options...]
#   quick  about two minutes (after a first build of about one)
#   full   about twenty minutes: full-size workloads, more and longer runs,
#          every read/write mix, the Claude Code traces
# The real traces are read from ../shared/data/traces (PCE_TRACES to point
# elsewhere); without them the trace experiments are left out.
# Benchmarks never fail on a missed goal: they report it.
set -eu
cd "$(dirname "$0")/.."

PRESET=${1:-quick}
if [ $# -gt 0 ]; then
	shift
fi
case $PRESET in
quick | full) ;;
*) echo "bench.sh: unknown preset '$PRESET' (quick or full)" >&2; exit 2 ;;
esac

scripts/deps.sh bench

BUILD=build/bench
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPCE_DEBUG=0 \
	-DPCE_SANITIZE= -DPCE_ALLOCATOR=mimalloc -DPCE_BUILD_TOOLS=ON -DPCE_BUILD_BENCH=ON \
	-DPCE_BUILD_TESTS=OFF -DPCE_BUILD_EXAMPLES=OFF -DPCE_BUILD_STRESS=OFF >/dev/null
cmake --build "$BUILD" --target pce_bench

TRACES=${PCE_TRACES:-../shared/data/traces}
if [ -d "$TRACES" ]; then
	set -- --traces "$TRACES" "$@"
fi
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	COMMIT="$COMMIT, with local changes"
fi

mkdir -p docs/bench
exec "$BUILD/bench/pce_bench" --preset "$PRESET" --json "docs/bench/$PRESET.jsonl" \
	--markdown docs/benchmarks.md --svg-dir docs/bench --commit "$COMMIT" "$@"
