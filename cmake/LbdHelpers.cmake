# Build flags as INTERFACE targets, and the helpers every folder uses.

add_library(lbd_warnings INTERFACE)
target_compile_options(lbd_warnings INTERFACE -Wall -Wextra -Wshadow -Wnon-virtual-dtor
                       -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)
# GCC 12's -Wrestrict misfires inside std::string at -O3 (GCC bug 105651:
# "accessing 9223372036854775810 or more bytes" for "x" + std::string); the
# warning says nothing true there, so it is off for that compiler only.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_GREATER_EQUAL 12
   AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(lbd_warnings INTERFACE -Wno-restrict)
endif()
if(LBD_WERROR)
  target_compile_options(lbd_warnings INTERFACE -Werror)
endif()

add_library(lbd_sanitize INTERFACE)
if(LBD_SANITIZE)
  target_compile_options(lbd_sanitize INTERFACE -fsanitize=address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(lbd_sanitize INTERFACE -fsanitize=address,undefined)
endif()

# ThreadSanitizer cannot be combined with AddressSanitizer. Run with
# TSAN_OPTIONS=suppressions=<repo>/tests/tsan.supp (see README.md, Testing).
if(LBD_TSAN)
  if(LBD_SANITIZE)
    message(FATAL_ERROR "LBD_TSAN and LBD_SANITIZE are mutually exclusive "
                        "(ThreadSanitizer cannot run with AddressSanitizer): use separate build dirs")
  endif()
  target_compile_options(lbd_sanitize INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(lbd_sanitize INTERFACE -fsanitize=thread)
endif()

# What every lbd target links: warnings and (optionally) sanitizers.
add_library(lbd_build_flags INTERFACE)
target_link_libraries(lbd_build_flags INTERFACE lbd_warnings lbd_sanitize)

# lbd_add_test(NAME SOURCES src... [LIBS lib...] [LABELS label...])
# A GoogleTest program; every test case becomes a CTest test carrying LABELS
# (unit by default; integration tests say LABELS integration).
function(lbd_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main lbd_build_flags)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST PROPERTIES LABELS "${T_LABELS}"
                       DISCOVERY_TIMEOUT 30)
endfunction()

# lbd_add_bench(NAME SOURCES src... [LIBS lib...])
function(lbd_add_bench name)
  cmake_parse_arguments(B "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${B_SOURCES})
  target_link_libraries(${name} PRIVATE ${B_LIBS} benchmark::benchmark lbd_build_flags)
endfunction()
