# pce_add_fuzz_target(NAME <name> SOURCES <src...> [LIBS <lib...>] CORPUS <dir>)
#
# With PCE_BUILD_FUZZ=ON (clang only) builds a libFuzzer target and adds two
# tests labelled "fuzz":
#   <name>_corpus  replays every file of CORPUS (a regression check);
#   <name>_run     fuzzes for PCE_FUZZ_SECONDS, starting from CORPUS; new
#                  inputs go to a scratch directory in the build tree, never
#                  into the source tree.
function(pce_add_fuzz_target)
  cmake_parse_arguments(F "" "NAME;CORPUS" "SOURCES;LIBS" ${ARGN})
  if(NOT PCE_BUILD_FUZZ)
    return()
  endif()
  add_executable(${F_NAME} ${F_SOURCES})
  target_link_libraries(${F_NAME} PRIVATE pce_flags ${F_LIBS})
  target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
  set(scratch ${CMAKE_CURRENT_BINARY_DIR}/${F_NAME}.scratch)
  add_test(NAME ${F_NAME}_corpus COMMAND ${F_NAME} -runs=0 ${F_CORPUS})
  add_test(NAME ${F_NAME}_run
           COMMAND ${CMAKE_COMMAND} -E env sh -c
                   "mkdir -p '${scratch}' && exec '$<TARGET_FILE:${F_NAME}>' -max_total_time=${PCE_FUZZ_SECONDS} -print_final_stats=1 '${scratch}' '${F_CORPUS}'")
  set_tests_properties(${F_NAME}_corpus ${F_NAME}_run PROPERTIES LABELS fuzz)
endfunction()
