#!/bin/sh
# test.sh - build libpce and run its whole test suite from a clean clone.
#
# Installs missing Debian packages (scripts/deps.sh), then builds and runs
# every suite below in its own build directory under build/.  Exits non-zero
# on the first failing suite.  Usage: scripts/test.sh [suite...]
#   release  gcc, mimalloc, assertions on, -Werror: unit tests, install test
#   asan     ASan + UBSan, libc allocator, internal assertions
#   tsan     ThreadSanitizer, libc allocator
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh

JOBS=$(nproc 2>/dev/null || echo 2)
# cmocka's own SIGSEGV handler would hide ASan's report.
export ASAN_OPTIONS="allow_user_segv_handler=0:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"

suite() {
	name=$1
	shift
	echo "==> suite $name"
	cmake -S . -B "build/$name" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "build/$name" -j "$JOBS"
	ctest --test-dir "build/$name" --output-on-failure -j "$JOBS"
}

SUITES=${*:-"release asan tsan"}
for s in $SUITES; do
	case $s in
	release) suite release -DPCE_DEBUG=1 -DPCE_WERROR=ON ;;
	asan) suite asan -DPCE_SANITIZE=address -DPCE_DEBUG=2 ;;
	tsan) suite tsan -DPCE_SANITIZE=thread -DPCE_DEBUG=1 ;;
	*) echo "test.sh: unknown suite $s" >&2; exit 2 ;;
	esac
done
echo "==> all suites passed: $SUITES"
