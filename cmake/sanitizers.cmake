# Sanitizer builds, driven by the cache variable SANITIZE (comma-separated -fsanitize= list):
#
#   -DSANITIZE=address,undefined   ASan + UBSan (the `asan` preset)
#   -DSANITIZE=thread              TSan (the `tsan` preset)
#   -DSANITIZE=                    none (default)
#
# Every report is fatal: -fno-sanitize-recover=all turns UBSan findings into aborts, and the test
# wrapper (scripts/sanitizers/run-test.sh, used as the ctest launcher below) sets halt_on_error=1,
# the suppression files of scripts/sanitizers/ and fails the test when the test process or any
# child it spawned (write-side, read-side, relay_runner) wrote a report. See docs/testing.md.
set(SANITIZE "" CACHE STRING "Comma-separated sanitizers (address,undefined | thread), empty for none")

if(SANITIZE)
  string(REPLACE "," ";" _sanitizers "${SANITIZE}")
  if("thread" IN_LIST _sanitizers AND ("address" IN_LIST _sanitizers OR "leak" IN_LIST _sanitizers))
    message(FATAL_ERROR "SANITIZE=${SANITIZE}: thread cannot be combined with address/leak")
  endif()
  set(_flags -fsanitize=${SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_compile_options(${_flags})
  add_link_options(${_flags})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # The instrumentation defeats GCC 12's flow analysis: false -Wmaybe-uninitialized inside
    # libstdc++ (std::regex's std::function states at -O1); a warning, not an error, here only.
    add_compile_options(-Wno-error=maybe-uninitialized)
  endif()
  if("thread" IN_LIST _sanitizers AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC warns that TSan does not model std::atomic_thread_fence (used inside Boost.Asio);
    # keep the warning visible but not fatal.
    add_compile_options(-Wno-error=tsan)
  endif()
  # Tests (and gtest_discover_tests' --gtest_list_tests) run through the wrapper: sanitizer
  # options, suppressions, and a per-test report directory it checks after the test exits.
  # (CMake < 3.28 applies the emulator to add_test even when not cross-compiling.)
  set(CMAKE_CROSSCOMPILING_EMULATOR
    "${PROJECT_SOURCE_DIR}/scripts/sanitizers/run-test.sh;${PROJECT_BINARY_DIR}/sanitizer-reports")
  message(STATUS "Sanitizers: ${SANITIZE}")
endif()
