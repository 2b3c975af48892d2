# A code example in README.md must be an example program of examples/ (from
# its first #include on), which the test suite builds and runs: documentation
# that compiles.  Run with -DREADME=... -DEXAMPLE=... -DFENCE=c (the C block,
# quickstart.c), -DFENCE=cpp (the C++ block, quickstart.cpp),
# "-DFENCE=c router" (the router block, gateway.c) or "-DFENCE=cpp router"
# (the C++ router block, gateway.cpp).
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "```${FENCE}\n" start)
if(start EQUAL -1)
  message(FATAL_ERROR "README.md has no ```${FENCE} block")
endif()
string(LENGTH "```${FENCE}\n" fence_len)
math(EXPR start "${start} + ${fence_len}")
string(SUBSTRING "${readme}" ${start} -1 rest)
string(FIND "${rest}" "```" stop)
string(SUBSTRING "${rest}" 0 ${stop} code)
string(FIND "${example}" "#include" body)
string(SUBSTRING "${example}" ${body} -1 example)
if(NOT code STREQUAL example)
  message(FATAL_ERROR "README.md's ```${FENCE} example differs from ${EXAMPLE}")
endif()
