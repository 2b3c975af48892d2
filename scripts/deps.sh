#!/bin/sh
# deps.sh - install the Debian 12 packages libpce needs, if any are missing.
# Runs apt-get as root, or through sudo.  Does nothing when all are present.
set -eu

PACKAGES="build-essential cmake ninja-build pkg-config git
liburcu-dev libmimalloc-dev libcmocka-dev libcjson-dev zlib1g-dev libxxhash-dev
clang-14 libclang-rt-14-dev libfuzzer-14-dev valgrind
python3-dev python3-setuptools python3-pip python3-pytest"

missing=""
for p in $PACKAGES; do
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
