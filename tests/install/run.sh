#!/bin/sh
# run.sh BUILD_DIR WORK_DIR - install a built libpce into WORK_DIR/prefix and
# build out-of-tree consumers against the installed copy only:
#   consumer.c      with pkg-config (libpce.pc), linked to the shared library;
#   consumer.cpp    with CMake find_package(pce), linked to pce::pce_static;
#   consumer_hpp.cpp  <pce/pce.hpp> as C++20 through find_package(pce), linked
#                   to pce::pce.
# All must build and run.
set -eu
build=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"

cmake --install "$build" --prefix "$prefix" >/dev/null

libdir=$(find "$prefix" -name libpce.pc -exec dirname {} \; | head -n 1)
export PKG_CONFIG_PATH="$libdir"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$work/consumer_c" "$here/consumer.c" \
	$(pkg-config --cflags --libs libpce) -Wl,-rpath,"$(pkg-config --variable=libdir libpce)"
"$work/consumer_c"

cmake -S "$here" -B "$work/cxx" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cxx" >/dev/null
"$work/cxx/consumer_cxx"
"$work/cxx/consumer_hpp"
echo "install test: ok"
