#include "tests/e2e/support/verify.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include <nats/nats.h>
#include <pqxx/pqxx>

#include "common/codec/event_codec.hpp"
#include "common/codec/recorded_event.hpp"
#include "common/domain/order.hpp"
#include "common/nats/stream_admin.hpp"

namespace orders::testing::e2e {

namespace {

std::int64_t scalar(pqxx::work& tx, const std::string& q) {
  auto r = tx.exec1(q);
  return r[0].is_null() ? 0 : r[0].as<std::int64_t>();
}

struct Row {
  std::string customer_id;
  std::string status;
  std::vector<domain::Item> items;
  std::int64_t total_cents = 0;
  std::int64_t item_count = 0;
  std::string tracking_number;
  std::int64_t version = 0;
};

// An order's lines from a lines table, in line order, as [{"product_id","quantity","price_cents"}]
// (written here, not taken from the projector: this check is independent of its code).
std::string lines_json(const std::string& lines, const std::string& table) {
  return "(SELECT coalesce(jsonb_agg(jsonb_build_object('product_id', l.product_id, 'quantity', "
         "l.quantity, 'price_cents', l.price_cents) ORDER BY l.line), '[]') FROM " +
         lines + " l WHERE l.order_id = " + table + ".order_id)::text";
}

std::vector<domain::Item> parse_items(const std::string& text, bool* ok) {
  std::vector<domain::Item> items;
  *ok = true;
  try {
    auto j = nlohmann::json::parse(text);
    for (const auto& it : j) {
      domain::Item item;
      item.product_id = it.at("product_id").get<std::string>();
      item.quantity = it.at("quantity").get<std::int64_t>();
      item.price = it.at("price_cents").get<std::int64_t>();
      items.push_back(std::move(item));
    }
  } catch (const std::exception&) {
    *ok = false;
  }
  return items;
}

}  // namespace

LossReport check_lost(const StoreTarget& stack, const std::vector<Ack>& acks) {
  LossReport rep;
  rep.acked = static_cast<std::int64_t>(acks.size());
  pqxx::connection conn(stack.db_url);
  pqxx::work tx(conn);
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> stored;
  for (const auto& row : tx.exec("SELECT stream_id, version, position FROM events")) {
    stored[{row[0].as<std::string>(), row[1].as<std::int64_t>()}] = row[2].as<std::int64_t>();
  }
  for (const auto& a : acks) {
    auto it = stored.find({a.order_id, a.version});
    if (it == stored.end()) {
      ++rep.lost;
      if (rep.examples.size() < 10) {
        rep.examples.push_back("lost: " + a.order_id + " v" + std::to_string(a.version));
      }
    } else if (a.position >= 0 && it->second != a.position) {
      ++rep.position_mismatch;
      if (rep.examples.size() < 10) {
        rep.examples.push_back("position: " + a.order_id + " v" + std::to_string(a.version) +
                               " acked at " + std::to_string(a.position) + ", stored at " +
                               std::to_string(it->second));
      }
    }
  }
  return rep;
}

OutboxReport check_outbox(const StoreTarget& stack) {
  OutboxReport rep;
  pqxx::connection conn(stack.db_url);
  pqxx::work tx(conn);
  rep.events = scalar(tx, "SELECT count(*) FROM events");
  rep.outbox_rows = scalar(tx, "SELECT count(*) FROM outbox");
  rep.global_log_rows = scalar(tx, "SELECT count(*) FROM global_log");
  rep.max_global_position = scalar(tx, "SELECT coalesce(max(global_position), 0) FROM global_log");
  rep.last_sequenced = scalar(tx, "SELECT last_sequenced FROM relay_state WHERE id = 1");
  rep.last_published = scalar(tx, "SELECT last_published FROM relay_state WHERE id = 1");
  return rep;
}

std::string OutboxReport::describe() const {
  std::ostringstream out;
  out << "events=" << events << " outbox_rows=" << outbox_rows << " global_log=" << global_log_rows
      << " max_global_position=" << max_global_position << " last_sequenced=" << last_sequenced
      << " last_published=" << last_published;
  return out.str();
}

DivergenceReport check_divergence(const StoreTarget& stack) {
  DivergenceReport rep;
  pqxx::connection conn(stack.db_url);
  pqxx::work tx(conn);

  // A fresh fold of the event store with the domain's own evolve.
  std::map<std::string, domain::OrderState> folded;
  for (const auto& row : tx.exec("SELECT stream_id, type, schema_version, data::text FROM events "
                                 "ORDER BY stream_id, version")) {
    auto& state = folded[row[0].as<std::string>()];
    auto decoded = codec::decode_event(row[1].as<std::string>(), row[2].as<int>(),
                                       nlohmann::json::parse(row[3].as<std::string>()));
    if (auto* e = std::get_if<domain::Event>(&decoded)) {
      state = domain::evolve(std::move(state), *e);
    } else {
      ++rep.undecodable_events;
    }
  }
  rep.streams = static_cast<std::int64_t>(folded.size());

  auto note = [&rep](const std::string& what) {
    if (rep.examples.size() < 10) rep.examples.push_back(what);
    const auto colon = what.find(": ");
    const auto id = what.substr(colon + 2, what.find(' ', colon + 2) - colon - 2);
    if (rep.diverged_ids.size() < 20 &&
        std::find(rep.diverged_ids.begin(), rep.diverged_ids.end(), id) == rep.diverged_ids.end()) {
      rep.diverged_ids.push_back(id);
    }
  };

  // "orders"
  std::set<std::string> seen;
  for (const auto& row :
       tx.exec("SELECT order_id, customer_id, status, " + lines_json("order_items", "orders") +
               ", total_cents, item_count, coalesce(tracking_number, ''), version FROM orders")) {
    const auto id = row[0].as<std::string>();
    seen.insert(id);
    auto it = folded.find(id);
    if (it == folded.end()) {
      ++rep.diverged_orders;
      note("orders: row " + id + " has no events");
      continue;
    }
    const auto& s = it->second;
    bool items_ok = false;
    auto items = parse_items(row[3].as<std::string>(), &items_ok);
    std::string diff;
    if (row[1].as<std::string>() != s.customer_id) diff += " customer_id";
    if (row[2].as<std::string>() != domain::to_string(s.status)) diff += " status";
    if (!items_ok || items != s.items) diff += " items";
    if (row[4].as<std::int64_t>() != domain::total_cents(s)) diff += " total_cents";
    if (row[5].as<std::int64_t>() != static_cast<std::int64_t>(s.items.size()))
      diff += " item_count";
    if (row[6].as<std::string>() != s.tracking_number) diff += " tracking_number";
    if (row[7].as<std::int64_t>() != s.version) {
      diff += " version(" + row[7].as<std::string>() + " vs " + std::to_string(s.version) + ")";
    }
    if (!diff.empty()) {
      ++rep.diverged_orders;
      note("orders: " + id + " differs in" + diff);
    }
  }
  for (const auto& [id, s] : folded) {
    if (seen.count(id) == 0) {
      ++rep.diverged_orders;
      note("orders: " + id + " missing (" + std::to_string(s.version) + " events)");
    }
  }

  // "customers"
  seen.clear();
  for (const auto& row : tx.exec("SELECT order_id, customer_id, status, " +
                                 lines_json("customer_order_items", "customer_orders") +
                                 ", total_cents, version FROM customer_orders")) {
    const auto id = row[0].as<std::string>();
    seen.insert(id);
    auto it = folded.find(id);
    if (it == folded.end()) {
      ++rep.diverged_customers;
      note("customer_orders: row " + id + " has no events");
      continue;
    }
    const auto& s = it->second;
    bool items_ok = false;
    auto items = parse_items(row[3].as<std::string>(), &items_ok);
    std::string diff;
    if (row[1].as<std::string>() != s.customer_id) diff += " customer_id";
    if (row[2].as<std::string>() != domain::to_string(s.status)) diff += " status";
    if (!items_ok || items != s.items) diff += " items";
    if (row[4].as<std::int64_t>() != domain::total_cents(s)) diff += " total_cents";
    if (row[5].as<std::int64_t>() != s.version) diff += " version";
    if (!diff.empty()) {
      ++rep.diverged_customers;
      note("customer_orders: " + id + " differs in" + diff);
    }
  }
  for (const auto& [id, s] : folded) {
    if (seen.count(id) == 0) {
      ++rep.diverged_customers;
      note("customer_orders: " + id + " missing");
    }
  }
  return rep;
}

DuplicateReport check_duplicates(const StoreTarget& stack) {
  DuplicateReport rep;
  std::map<std::int64_t, std::string> event_at;  // global_position -> event_id
  {
    pqxx::connection conn(stack.db_url);
    pqxx::work tx(conn);
    rep.events = scalar(tx, "SELECT count(*) FROM events");
    rep.applied_orders =
        scalar(tx,
               "SELECT coalesce(sum(events_applied), 0) FROM projection_checkpoints "
               "WHERE projection = 'orders'");
    rep.applied_customers =
        scalar(tx,
               "SELECT coalesce(sum(events_applied), 0) FROM projection_checkpoints "
               "WHERE projection = 'customers'");
    for (const auto& row : tx.exec("SELECT g.global_position, e.event_id::text FROM global_log g "
                                   "JOIN events e ON e.position = g.position")) {
      event_at[row[0].as<std::int64_t>()] = row[1].as<std::string>();
    }
  }
  nats::ConnectOptions co;
  co.url = stack.nats_url;
  co.name = "fault-test-verify";
  auto conn = nats::Connection::connect(co);
  nats::StreamAdmin js(conn);
  auto info = js.stream_info("ORDERS");
  if (!info) return rep;
  rep.bus_messages = static_cast<std::int64_t>(info->msgs);
  std::set<std::string> ids;
  for (std::uint64_t seq = info->first_seq; seq != 0 && seq <= info->last_seq; ++seq) {
    auto msg = js.get_message("ORDERS", seq);
    if (!msg) continue;
    auto id = msg->header("Nats-Msg-Id").value_or("");
    ids.insert(id);
    auto it = event_at.find(static_cast<std::int64_t>(seq));
    if (it == event_at.end() || it->second != id) ++rep.bus_sequence_mismatch;
  }
  rep.bus_distinct_ids = static_cast<std::int64_t>(ids.size());
  return rep;
}

std::string DuplicateReport::describe() const {
  std::ostringstream out;
  out << "bus_messages=" << bus_messages << " bus_distinct_event_ids=" << bus_distinct_ids
      << " bus_seq_mismatch=" << bus_sequence_mismatch << " events=" << events
      << " applied_orders=" << applied_orders << " applied_customers=" << applied_customers;
  return out.str();
}

bool wait_drained(const StoreTarget& stack, std::chrono::milliseconds deadline) {
  return wait_until(
      [&] {
        try {
          if (!check_outbox(stack).drained()) return false;
          pqxx::connection conn(stack.db_url);
          pqxx::work tx(conn);
          for (const char* table : {"orders", "customer_orders"}) {
            auto behind = scalar(
                tx, std::string("SELECT count(*) FROM (SELECT stream_id, count(*) AS n FROM events "
                                "GROUP BY stream_id) e LEFT JOIN ") +
                        table +
                        " r ON r.order_id = e.stream_id WHERE r.version IS DISTINCT FROM e.n");
            if (behind != 0) return false;
          }
          return true;
        } catch (const std::exception&) {
          return false;  // Postgres restarting
        }
      },
      deadline, std::chrono::milliseconds(250));
}

}  // namespace orders::testing::e2e

namespace orders::testing::e2e {

std::string diagnose_divergence(const StoreTarget& stack,
                                const std::vector<std::string>& order_ids) {
  std::ostringstream out;
  std::set<int> partitions;
  try {
    pqxx::connection conn(stack.db_url);
    pqxx::work tx(conn);
    for (const auto& id : order_ids) {
      const int p = codec::partition_of(id);
      partitions.insert(p);
      auto rows = tx.exec_params(
          "SELECT e.version, e.type, g.global_position, e.recorded_at::text, "
          "coalesce(o.version, -1), coalesce(c.version, -1) "
          "FROM events e LEFT JOIN global_log g ON g.position = e.position "
          "LEFT JOIN orders o ON o.order_id = e.stream_id "
          "LEFT JOIN customer_orders c ON c.order_id = e.stream_id "
          "WHERE e.stream_id = $1 AND (e.version > coalesce(o.version, 0) OR e.version > "
          "coalesce(c.version, 0)) ORDER BY e.version",
          id);
      for (const auto& r : rows) {
        out << "  missing: order " << id << " partition " << p << " v" << r[0].c_str() << " "
            << r[1].c_str() << " global_position " << r[2].c_str() << " recorded_at "
            << r[3].c_str() << " (orders row v" << r[4].c_str() << ", customer_orders row v"
            << r[5].c_str() << ")\n";
      }
    }
    for (int p : partitions) {
      for (const auto& r : tx.exec_params(
               "SELECT projection, last_global_position, events_applied, updated_at::text "
               "FROM projection_checkpoints WHERE partition = $1 ORDER BY projection",
               p)) {
        out << "  checkpoint: partition " << p << " " << r[0].c_str() << " last_global_position "
            << r[1].c_str() << " events_applied " << r[2].c_str() << " updated " << r[3].c_str()
            << "\n";
      }
      out << "  events in partition " << p << ": ";
      std::int64_t n = 0;
      for (const auto& r : tx.exec("SELECT stream_id FROM events")) {
        if (codec::partition_of(r[0].c_str()) == p) ++n;
      }
      out << n << "\n";
    }
  } catch (const std::exception& e) {
    out << "  (database diagnostics failed: " << e.what() << ")\n";
  }
  try {
    nats::ConnectOptions co;
    co.url = stack.nats_url;
    co.name = "fault-test-diagnose";
    auto conn = nats::Connection::connect(co);
    nats::StreamAdmin js(conn);
    // The read side's consumers of partition p are generations "read_side_p<p>_a<n>_<nonce>"
    // (common/nats/pull_consumer.cpp); list every consumer of the stream and show those.
    jsConsumerInfoList* list = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_Consumers(&list, js.raw(), "ORDERS", nullptr, &jerr);
    if (s != NATS_OK || list == nullptr) {
      out << "  consumers: list failed (" << natsStatus_GetText(s) << ")\n";
    } else {
      for (int p : partitions) {
        const std::string prefix = "read_side_p" + std::to_string(p);
        for (int i = 0; i < list->Count; ++i) {
          const jsConsumerInfo* ci = list->List[i];
          const std::string name = ci->Name ? ci->Name : "";
          if (name != prefix && name.rfind(prefix + "_", 0) != 0) continue;
          out << "  consumer " << name << ": delivered stream seq " << ci->Delivered.Stream
              << ", ack floor stream seq " << ci->AckFloor.Stream << ", ack pending "
              << ci->NumAckPending << ", redelivered " << ci->NumRedelivered << ", pending "
              << ci->NumPending << ", waiting pulls " << ci->NumWaiting << "\n";
        }
      }
      jsConsumerInfoList_Destroy(list);
    }
  } catch (const std::exception& e) {
    out << "  (NATS diagnostics failed: " << e.what() << ")\n";
  }
  return out.str();
}

}  // namespace orders::testing::e2e

namespace orders::testing::e2e {

StoreTarget target_of(Stack& stack) {
  return StoreTarget{stack.db_url(), stack.nats().url()};
}

}  // namespace orders::testing::e2e
