#!/bin/sh
# run.sh - build libpce and run its main job from a clean clone.
#
# Installs the missing Debian packages the run needs (scripts/deps.sh run:
# build tools and libraries, none of the test suites'), builds libpce and
# the pce tool alone, in release mode, in build/run, and runs the tool on
# the bundled slice of the Mooncake conversation trace (data/): how much of
# the traffic is a shared prefix, then the hit ratio a libpce cache reaches
# by capacity and policy, with the recommended size; the chart goes to
# build/run/hit-ratio.svg.
# Arguments replace the input: scripts/run.sh my_requests.jsonl
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh run
cmake -S . -B build/run -G Ninja -DCMAKE_BUILD_TYPE=Release -DPCE_BUILD_TESTS=OFF \
	-DPCE_BUILD_EXAMPLES=OFF -DPCE_BUILD_STRESS=OFF -DPCE_BUILD_BENCH=OFF \
	-DPCE_BUILD_EVENTS=OFF -DPCE_BUILD_CLUSTER=OFF >/dev/null
cmake --build build/run --target pce_cli -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
[ $# -gt 0 ] || set -- data/mooncake_conversation_1000.jsonl
build/run/tools/pce analyze "$@"
echo
build/run/tools/pce simulate --svg build/run/hit-ratio.svg "$@"
echo
echo "chart: build/run/hit-ratio.svg"
