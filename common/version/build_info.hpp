// The binary's release version and source revision, for --version and orders_build_info. Both
// live in one generated file (common/version/build_info.cmake), so a new commit recompiles only
// that file.
#pragma once

namespace orders::version {

const char* release();   // the CMake project version: "0.1.0"
const char* revision();  // `git describe --always --dirty` at build time, "unknown" outside git

}  // namespace orders::version
