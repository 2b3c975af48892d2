#!/bin/sh
# deps.sh - install the Debian 12 packages libpce needs, if any are missing.
#
# Usage: scripts/deps.sh [run|test|bench]...   (no argument: all of them)
#   run    build libpce and the pce tool, and run the tool (scripts/run.sh)
#   test   what run needs, plus the fleet libraries' and the test suites'
#          (scripts/test.sh)
#   bench  what run needs, plus the fleet libraries' and the benchmarks'
#          (scripts/bench.sh)
# Runs apt-get as root, or through sudo.  Does nothing when all are present.
# Each list below serves one purpose; add a package to the list of what
# needs it, one package a line.
set -eu

# Compilers and build tools.
BUILD="
build-essential
cmake
ninja-build
pkg-config
"
# What libpce and the pce tool link.
RUN="
liburcu-dev
libmimalloc-dev
libcjson-dev
zlib1g-dev
"
# What the fleet libraries link: libpce_events (ZMQ, msgpack-c, xxHash) and
# the cluster tier (hiredis, xxHash, libcrypto for its SHA-256/128 chunk
# ids).  The test suites and the benchmarks build them; the run command
# (scripts/run.sh) builds neither.
FLEET="
libzmq3-dev
libmsgpack-dev
libxxhash-dev
libhiredis-dev
libssl-dev
"
# The test suites: cmocka, the benchmarks' dependencies (the release, asan
# and tsan suites build them), clang-14 with libFuzzer (fuzz), valgrind
# (memcheck), Debian's python3 (the tool's tests parse its JSON and SVG;
# the python suites build and test the Python package with pip and pytest;
# the events tests run a KV-event publisher with python3-zmq and -msgpack),
# redis-server and redis-tools (the cluster tier's tests start their own
# servers), libhiredis-dev (the tests' own Redis client).
TEST="
libcmocka-dev
libxxhash-dev
clang-14
libclang-rt-14-dev
libfuzzer-14-dev
valgrind
python3
python3-dev
python3-setuptools
python3-pip
python3-pytest
python3-zmq
python3-msgpack
redis-server
redis-tools
libhiredis-dev
"
# The benchmarks: xxHash (the block-hash baseline), git (the commit that
# docs/benchmarks.md names).
BENCH="
libxxhash-dev
git
"

wanted=""
for purpose in ${*:-run test bench}; do
	case $purpose in
	run) wanted="$wanted $BUILD $RUN" ;;
	test) wanted="$wanted $BUILD $RUN $FLEET $TEST" ;;
	bench) wanted="$wanted $BUILD $RUN $FLEET $BENCH" ;;
	*) echo "deps.sh: unknown purpose '$purpose' (run, test or bench)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $wanted; do
	case " $missing " in *" $p "*) continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1; then
	SUDO="sudo"
else
	echo "deps.sh: missing packages:$missing; run as root or install sudo" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once, then retry.
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing ||
	{ $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing; }
