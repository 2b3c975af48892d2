#!/bin/sh
# run.sh - build libpce and run its main job from a clean clone.
#
# Installs missing Debian packages (scripts/deps.sh), builds a release tree
# in build/run, and runs the pce tool on the bundled slice of the Mooncake
# conversation trace (data/): how much of the traffic is a shared prefix,
# then the hit ratio a libpce cache reaches by capacity and policy, with the
# recommended size; the chart goes to build/run/hit-ratio.svg.
# Arguments replace the input: scripts/run.sh my_requests.jsonl
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/run -G Ninja -DCMAKE_BUILD_TYPE=Release -DPCE_BUILD_TESTS=OFF >/dev/null
cmake --build build/run -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
[ $# -gt 0 ] || set -- data/mooncake_conversation_1000.jsonl
build/run/tools/pce analyze "$@"
echo
build/run/tools/pce simulate --svg build/run/hit-ratio.svg "$@"
echo
echo "chart: build/run/hit-ratio.svg"
