# The outbox relay library (owned by the relay work). Included from write-side/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/outbox_relay.cmake)
# and linked as `outbox_relay`. Safe to include twice.
if(NOT TARGET outbox_relay)
  add_library(outbox_relay STATIC ${CMAKE_CURRENT_LIST_DIR}/outbox_relay.cpp)
  target_include_directories(outbox_relay PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(outbox_relay PUBLIC order_common order_nats order_domain PkgConfig::PQXX)
endif()
