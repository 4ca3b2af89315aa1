# bench_add_gtest(<target> SOURCES <files...> LIBS <targets...>)
# One gtest binary, its tests discovered for ctest.
function(bench_add_gtest target)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${target} ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gmock GTest::gtest_main)
  gtest_discover_tests(${target} DISCOVERY_TIMEOUT ${BENCH_DISCOVERY_TIMEOUT}
    PROPERTIES ENVIRONMENT "BENCH_SOURCE_DIR=${PROJECT_SOURCE_DIR};BENCH_BINARY_DIR=${PROJECT_BINARY_DIR}")
endfunction()
