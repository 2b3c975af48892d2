#!/bin/sh
# test.sh - build libpce and run its whole test suite from a clean clone.
#
# Installs missing Debian packages (scripts/deps.sh test), then builds and runs
# every suite below in its own build directory under build/.  Exits non-zero
# on the first failing suite.  Usage: scripts/test.sh [suite...]
#   release  gcc, mimalloc, assertions on, -Werror: unit tests, install test
#   asan     ASan + UBSan, libc allocator, internal assertions; + stress presets
#   tsan     ThreadSanitizer, libc allocator; + stress presets
#   fault    allocation-failure sweep (PCE_FAULT_INJECTION, ASan + UBSan)
#   memcheck the unit tests under valgrind memcheck (definite and indirect
#            leaks are errors), libc allocator
#   fuzz     clang-14 libFuzzer targets (ASan + UBSan): corpus replay, then
#            PCE_FUZZ_SECONDS (environment, default 60) of fuzzing each
#   python   the pce Python package, installed by pip from this tree into
#            build/python/site, and its pytest suite, under Debian's python3
#   pyasan   the same tests with the package built under ASan + UBSan
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh test

JOBS=$(nproc 2>/dev/null || echo 2)
# cmocka's own SIGSEGV handler would hide ASan's report.
export ASAN_OPTIONS="allow_user_segv_handler=0:detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"

# suite NAME [cmake options...]; $TESTS: which ctest tests (ctest options).
suite() {
	name=$1
	shift
	echo "==> suite $name"
	cmake -S . -B "build/$name" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "build/$name" -j "$JOBS"
	# shellcheck disable=SC2086
	ctest --test-dir "build/$name" --output-on-failure -j "$JOBS" $TESTS
}

# Only what a suite needs is built.
LEAN="-DPCE_BUILD_BENCH=OFF -DPCE_BUILD_EXAMPLES=OFF -DPCE_BUILD_STRESS=OFF"
MEMCHECK="valgrind;--error-exitcode=99;--leak-check=full;--errors-for-leak-kinds=definite,indirect"
MEMCHECK="$MEMCHECK;--show-leak-kinds=definite,indirect;--quiet"

# python: pip builds the package from this tree (no venv, nothing installed
# system-wide) and pytest runs it under Debian's interpreter, where its
# python3-pytest and python3-numpy live.  pytest's exit code 5 (no test ran)
# fails like any other.
python_suite() {
	echo "==> suite python"
	rm -rf build/python
	/usr/bin/python3 -m pip install --quiet --no-build-isolation --no-deps \
		--root-user-action=ignore --target build/python/site ./python
	PYTHONPATH="$PWD/build/python/site" /usr/bin/python3 -m pytest -q \
		-p no:cacheprovider python/tests
}

# pyasan: the extension and libpce built with ASan + UBSan into
# build/python-asan.  The interpreter is not instrumented, so libasan is
# preloaded, and PYTHONMALLOC=malloc shows Python's objects to ASan as well.
# Leak detection is off: CPython's own exit-time leaks cannot be told apart
# from ours (their stacks end inside the interpreter); test_leaks.py covers
# leaks.
pyasan_suite() {
	echo "==> suite pyasan"
	rm -rf build/python-asan
	san="-fsanitize=address,undefined"
	(cd python && CFLAGS="$san -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
		LDFLAGS="$san" /usr/bin/python3 setup.py -q build_ext --force \
		--build-temp ../build/python-asan/tmp --build-lib ../build/python-asan/lib)
	cp python/pce/*.py python/pce/*.pyi python/pce/py.typed build/python-asan/lib/pce/
	LD_PRELOAD="$(gcc -print-file-name=libasan.so)" PYTHONMALLOC=malloc \
		ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
		PYTHONPATH="$PWD/build/python-asan/lib" /usr/bin/python3 -m pytest -q \
		-p no:cacheprovider python/tests
}

SUITES=${*:-"release asan tsan fault memcheck fuzz python pyasan"}
for s in $SUITES; do
	TESTS=""
	case $s in
	release) TESTS="-LE stress"; suite release -DPCE_DEBUG=1 -DPCE_WERROR=ON ;;
	asan) suite asan -DPCE_SANITIZE=address -DPCE_DEBUG=2 ;;
	tsan) suite tsan -DPCE_SANITIZE=thread -DPCE_DEBUG=1 ;;
	fault)
		TESTS="-L fault"
		# shellcheck disable=SC2086
		suite fault -DPCE_FAULT_INJECTION=ON -DPCE_SANITIZE=address -DPCE_DEBUG=2 \
			-DPCE_BUILD_TOOLS=OFF $LEAN ;;
	memcheck)
		TESTS="-L unit"
		# shellcheck disable=SC2086
		suite memcheck -DPCE_ALLOCATOR=libc -DPCE_DEBUG=1 -DPCE_BUILD_TOOLS=OFF $LEAN \
			"-DCMAKE_CROSSCOMPILING_EMULATOR=$MEMCHECK" ;;
	fuzz)
		TESTS="-L fuzz"
		# shellcheck disable=SC2086
		suite fuzz -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
			-DPCE_FUZZ_SECONDS="${PCE_FUZZ_SECONDS:-60}" -DPCE_BUILD_FUZZ=ON -DPCE_SANITIZE=address -DPCE_DEBUG=2 $LEAN ;;
	python) python_suite ;;
	pyasan) pyasan_suite ;;
	*) echo "test.sh: unknown suite $s" >&2; exit 2 ;;
	esac
done
echo "==> all suites passed: $SUITES"
