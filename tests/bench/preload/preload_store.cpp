// Bulk-loads a store for manual measurements (not a test): migrations, N events as
// preload.hpp writes them, and prints the store's size. The read model is then built by
// `read-side rebuild-projection --all`; prime_stream is the bench's (pipeline_bench --preload).
//
//   preload_store DATABASE_URL EVENTS [--metadata-pad CHARS] [--prefix P]
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "common/pg/migrations.hpp"
#include "tests/bench/preload/preload.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: preload_store DATABASE_URL EVENTS [--metadata-pad CHARS] [--prefix P]\n";
    return 2;
  }
  orders::bench::PreloadSpec spec;
  spec.orders = std::atoll(argv[2]) / 10;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--metadata-pad") {
      spec.metadata_pad_bytes = std::atoi(argv[i + 1]);
    } else if (a == "--prefix") {
      spec.prefix = argv[i + 1];
    } else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  try {
    pqxx::connection c(argv[1]);
    orders::pg::apply_migrations(c);
    const auto r = orders::bench::preload_events(c, spec, [](std::int64_t done) {
      std::fprintf(stderr, "\r%lld events", static_cast<long long>(done));
    });
    const auto s = orders::bench::store_size(c);
    std::printf("\n%lld events (%lld orders) in %.1f s; head %lld; %.0f bytes/event\n",
                static_cast<long long>(r.events), static_cast<long long>(r.orders), r.seconds,
                static_cast<long long>(r.head), s.bytes_per_event());
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "preload_store: " << e.what() << "\n";
    return 1;
  }
}
