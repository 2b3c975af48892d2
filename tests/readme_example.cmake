# The C example in README.md must be examples/quickstart.c (from its first
# #include on), which the test suite builds and runs: documentation that
# compiles.  Run with -DREADME=... -DEXAMPLE=...
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "```c\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "README.md has no ```c block")
endif()
math(EXPR start "${start} + 5")
string(SUBSTRING "${readme}" ${start} -1 rest)
string(FIND "${rest}" "```" stop)
string(SUBSTRING "${rest}" 0 ${stop} code)
string(FIND "${example}" "#include <pce/pce.h>" body)
string(SUBSTRING "${example}" ${body} -1 example)
if(NOT code STREQUAL example)
  message(FATAL_ERROR "README.md's C example differs from examples/quickstart.c")
endif()
