# Writes build_info.cpp from build_info.cpp.in with the release version and the git revision.
# Run at every build (cmake -P); configure_file leaves the output untouched when nothing changed,
# so nothing recompiles unless the revision did. Outside a git checkout (a source tarball, a
# Docker context without .git) the revision is ORDERS_REVISION from the environment or "unknown".
set(ORDERS_RELEASE "${RELEASE}")
set(ORDERS_REVISION "")
find_program(GIT_PROGRAM git)
if(GIT_PROGRAM)
  execute_process(
    COMMAND ${GIT_PROGRAM} -C "${SOURCE_DIR}" describe --always --dirty --abbrev=12
    OUTPUT_VARIABLE ORDERS_REVISION
    RESULT_VARIABLE git_result
    ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT git_result EQUAL 0)
    set(ORDERS_REVISION "")
  endif()
endif()
if(ORDERS_REVISION STREQUAL "" AND DEFINED ENV{ORDERS_REVISION})
  set(ORDERS_REVISION "$ENV{ORDERS_REVISION}")
endif()
if(ORDERS_REVISION STREQUAL "")
  set(ORDERS_REVISION "unknown")
endif()
string(REGEX REPLACE "[^A-Za-z0-9._+-]" "_" ORDERS_REVISION "${ORDERS_REVISION}")
configure_file("${TEMPLATE}" "${OUTPUT}" @ONLY)
