# LBD_FUZZ: libFuzzer targets (tests/fuzz) under AddressSanitizer and
# UndefinedBehaviorSanitizer. Clang only, in a build directory of its own:
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DLBD_FUZZ=ON \
#     -DLBD_BUILD_TESTS=OFF -DLBD_BUILD_BENCH=OFF
#   cmake --build build-fuzz --target lbd_fuzz
# scripts/fuzz does this and runs them. The normal (GCC) build never reads
# past the option below, so it needs no clang.
#
# Included at the end of the top-level CMakeLists.txt: the libraries exist by
# then, and the instrumentation reaches them through lbd_sanitize, whose
# interface flags are read at generation time.
option(LBD_FUZZ "Build the libFuzzer targets (clang; ASan + UBSan)" OFF)
if(LBD_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LBD_FUZZ needs clang (libFuzzer): configure with "
                        "CC=clang-14 CXX=clang++-14 in a build directory of its own")
  endif()
  if(LBD_TSAN)
    message(FATAL_ERROR "LBD_FUZZ builds with AddressSanitizer: not with LBD_TSAN")
  endif()
  # Coverage instrumentation for every lbd library the targets link; the
  # libFuzzer runtime (its main) only in the targets themselves.
  target_compile_options(lbd_sanitize INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(lbd_sanitize INTERFACE -fsanitize=address,undefined)
  enable_testing()
  if(NOT TARGET lbd_fuzz)  # tests/ adds it when LBD_BUILD_TESTS is on
    add_subdirectory(tests/fuzz)
  endif()
endif()
