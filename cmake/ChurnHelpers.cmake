# Unity builds (the ci preset turns CMAKE_UNITY_BUILD on: one compiler run per module parses the
# heavy headers once, docs/adr/0003) only pay for targets of several files; a target of one file
# stays a plain build, where g++ also keeps its anonymous-namespace types main-file local.
function(churn_unity_if_several target)
  list(LENGTH ARGN count)
  if(count LESS 2)
    set_target_properties(${target} PROPERTIES UNITY_BUILD OFF)
  endif()
endfunction()

# churn_module(NAME SRCS ... DEPS ... PRIVATE_DEPS ...): one static library per module, as
# absl_cc_library does in miniature. DEPS are public (their headers appear in ours); third-party
# libraries go in PRIVATE_DEPS so each is linked into exactly one module.
function(churn_module name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(churn_${name} STATIC ${ARG_SRCS})
  add_library(churn::${name} ALIAS churn_${name})
  target_include_directories(churn_${name}
    PUBLIC "${PROJECT_SOURCE_DIR}/include" "${PROJECT_BINARY_DIR}/generated"
    PRIVATE "${PROJECT_SOURCE_DIR}/src")
  target_compile_options(churn_${name} PRIVATE ${CHURN_WARNINGS})
  target_link_libraries(churn_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  churn_unity_if_several(churn_${name} ${ARG_SRCS})
endfunction()

# churn_test(NAME SRCS ... DEPS ... LABELS ...): one gtest binary per module, registered with
# ctest through gtest_discover_tests so each TEST runs (and can run in parallel) on its own.
function(churn_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/src" "${PROJECT_SOURCE_DIR}/tests")
  target_compile_options(${name} PRIVATE ${CHURN_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} churn::testing GTest::gmock GTest::gtest_main)
  churn_unity_if_several(${name} ${ARG_SRCS})
  gtest_discover_tests(${name} PROPERTIES LABELS "${ARG_LABELS}" DISCOVERY_TIMEOUT 60)
endfunction()
