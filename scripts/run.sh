#!/bin/sh
# run.sh - build libpce and run its main job from a clean clone.
#
# Installs missing Debian packages (scripts/deps.sh), builds a release tree
# in build/run, and runs examples/serve: worker threads storing and looking
# up prompts in one cache under a KV budget, then the cache's statistics.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/run -G Ninja -DCMAKE_BUILD_TYPE=Release -DPCE_BUILD_TESTS=OFF >/dev/null
cmake --build build/run -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
exec build/run/examples/serve "$@"
