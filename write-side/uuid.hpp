// Random (version 4) UUIDs for event ids and generated order ids.
#pragma once
#include <string>

namespace orders::write_side {

// "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx", lower-case; thread-safe (a generator per thread).
std::string uuid_v4();

}  // namespace orders::write_side
