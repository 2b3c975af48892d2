"""Build the pce extension: libpce's C sources compiled into pce._pce.

The library is not installed separately: the extension compiles the C
sources of the libpce tree it sits in (../src), so `pip install
--no-build-isolation ./python` works from a clean clone with no prior build
and no system-wide libpce.  Everything that says how libpce is built is read
from ../CMakeLists.txt, so the two builds cannot drift apart:

  * the version (project(pce VERSION ...)), which fills include/pce/version.h
    from version.h.in the way CMake's configure_file does;
  * the list of sources (set(PCE_SOURCES ...));
  * the liburcu flavour (the modules named in pkg_check_modules(URCU ...)),
    whose compile and link flags come from pkg-config.

The allocator is libc (no PCE_USE_MIMALLOC): CPython allocates with libc
malloc, and libpce never hands memory across, but linking mimalloc into an
extension would swap the allocator of the whole process (docs/build.md).
Assertions are off (PCE_DEBUG=0), as in a release build.
"""
import os
import re
import shlex
import subprocess

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cmake_lists():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as f:
        return f.read()


def cmake_fact(pattern, what):
    m = re.search(pattern, cmake_lists(), re.S)
    if not m:
        raise SystemExit(f"setup.py: cannot find {what} in {ROOT}/CMakeLists.txt")
    return m.group(1)


VERSION = cmake_fact(r"project\(pce\s+VERSION\s+([0-9.]+)", "the project version")
SOURCES = [os.path.join(ROOT, s) for s in
           cmake_fact(r"set\(PCE_SOURCES\s+([^)]*)\)", "set(PCE_SOURCES ...)").split()]
URCU_MODULES = re.findall(r"\bliburcu[\w-]*",
                          cmake_fact(r"pkg_check_modules\(URCU\b([^)]*)\)",
                                     "pkg_check_modules(URCU ...)"))
if not URCU_MODULES:
    raise SystemExit("setup.py: pkg_check_modules(URCU ...) names no liburcu module")


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, *URCU_MODULES], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(f"setup.py: pkg-config {' '.join(URCU_MODULES)} failed ({e}); "
                         "install liburcu-dev and pkg-config") from e
    return shlex.split(out)


def write_version_h(path):
    major, minor, patch = (VERSION.split(".") + ["0", "0"])[:3]
    with open(os.path.join(ROOT, "include", "pce", "version.h.in"), encoding="utf-8") as f:
        text = f.read()
    for key, val in (("PROJECT_VERSION_MAJOR", major), ("PROJECT_VERSION_MINOR", minor),
                     ("PROJECT_VERSION_PATCH", patch), ("PROJECT_VERSION", VERSION)):
        text = text.replace(f"@{key}@", val)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
    if old != text:  # unchanged: keep the timestamp, no rebuild
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


class BuildExt(build_ext):
    """Generates version.h and adds liburcu's flags before compiling."""

    def build_extensions(self):
        gen = os.path.join(os.path.abspath(self.build_temp), "include")
        write_version_h(os.path.join(gen, "pce", "version.h"))
        cflags = pkg_config("--cflags")
        libs = pkg_config("--libs")
        for ext in self.extensions:
            ext.include_dirs.insert(0, gen)
            ext.extra_compile_args += cflags
            ext.extra_link_args += libs
        super().build_extensions()


HEADERS = [os.path.join(d, f) for d in (os.path.join(ROOT, "include", "pce"),
                                        os.path.join(ROOT, "src"))
           for f in sorted(os.listdir(d)) if f.endswith((".h", ".h.in"))]

ext = Extension(
    "pce._pce",
    # A changed header or CMakeLists.txt rebuilds every object.
    depends=HEADERS + [os.path.join(ROOT, "CMakeLists.txt")],
    sources=[os.path.join(HERE, "src", "_pce.c")] + SOURCES,
    include_dirs=[os.path.join(ROOT, "include"), os.path.join(ROOT, "src")],
    define_macros=[("_GNU_SOURCE", None), ("PCE_DEBUG", "0")],
    extra_compile_args=["-std=gnu11", "-pthread", "-fvisibility=hidden", "-Wall", "-Wextra",
                        "-Wno-missing-field-initializers"],
    extra_link_args=["-pthread"],
)

setup(
    name="pce",
    version=VERSION,
    description="libpce: a concurrent prefix cache for LLM inference",
    license="MIT",
    packages=["pce"],
    package_data={"pce": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
    cmdclass={"build_ext": BuildExt},
    python_requires=">=3.9",
)
