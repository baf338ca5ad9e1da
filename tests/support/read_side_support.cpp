#include "tests/support/read_side_support.hpp"

#include <cctype>
#include <sstream>
#include <stdexcept>

#include <pqxx/pqxx>

#include "common/codec/bus_envelope.hpp"
#include "common/codec/event_codec.hpp"
#include "common/nats/publisher.hpp"
#include "common/nats/stream_admin.hpp"
#include "read-side/projector/view_store.hpp"
#include "read-side/view/order_view.hpp"
#include "tests/support/services.hpp"

namespace orders::testing::read_side {

namespace rs = orders::read_side;

namespace {

// The record encoding of a stored row, through the same functions the projector writes with.
nlohmann::json stored_orders_record(const pqxx::row& row) {
  return rs::orders_record(rs::view_from_row(rs::ProjectionKind::Orders, row));
}

void compare(const std::string& table, const std::map<std::string, nlohmann::json>& expected,
             std::map<std::string, nlohmann::json> actual, ModelCheck& out,
             std::ostringstream& notes) {
  int noted = 0;
  auto note = [&](const std::string& s) {
    if (noted++ < 5) notes << table << ": " << s << "\n";
  };
  for (const auto& [id, want] : expected) {
    auto it = actual.find(id);
    if (it == actual.end()) {
      ++out.diverged;
      note(id + " missing, expected " + want.dump());
      continue;
    }
    if (it->second != want) {
      ++out.diverged;
      note(id + " is " + it->second.dump() + "\n   expected " + want.dump());
    }
    actual.erase(it);
  }
  for (const auto& [id, got] : actual) {
    ++out.diverged;
    note(id + " has no events but is " + got.dump());
  }
}

}  // namespace

ModelCheck check_read_model(const std::string& database_url) {
  pqxx::connection conn(database_url);
  pqxx::read_transaction tx(conn);
  ModelCheck out;
  std::vector<codec::RecordedEvent> events;
  for (const auto& row : tx.exec(std::string("SELECT ") + rs::kEventColumns + " FROM " +
                                 rs::kEventFrom + " ORDER BY e.stream_id, e.version")) {
    events.push_back(rs::event_from_row(row));
  }
  out.events = static_cast<std::int64_t>(events.size());
  auto folded = rs::fold_all(events);
  if (auto* err = std::get_if<rs::FoldError>(&folded)) {
    out.diverged = 1;
    out.differences = "the event store does not fold: " + err->message;
    return out;
  }
  const auto& views = std::get<0>(folded);
  out.orders = static_cast<std::int64_t>(views.size());

  std::map<std::string, nlohmann::json> want_orders, want_customers, got_orders, got_customers;
  for (const auto& [id, v] : views) {
    want_orders[id] = rs::orders_record(v);
    want_customers[id] = rs::customer_orders_record(v);
  }
  for (const auto& row : tx.exec(rs::all_views_sql(rs::ProjectionKind::Orders, "orders"))) {
    got_orders[row[0].as<std::string>()] = stored_orders_record(row);
  }
  for (const auto& row :
       tx.exec(rs::all_views_sql(rs::ProjectionKind::Customers, "customer_orders"))) {
    got_customers[row[0].as<std::string>()] =
        rs::customer_orders_record(rs::view_from_row(rs::ProjectionKind::Customers, row));
  }
  std::ostringstream notes;
  compare("orders", want_orders, std::move(got_orders), out, notes);
  compare("customer_orders", want_customers, std::move(got_customers), out, notes);
  out.differences = notes.str();
  auto applied = tx.exec(
      "SELECT coalesce(sum(events_applied) FILTER (WHERE projection = 'orders'), 0)::bigint, "
      "coalesce(sum(events_applied) FILTER (WHERE projection = 'customers'), 0)::bigint "
      "FROM projection_checkpoints");
  out.applied_orders = applied[0][0].as<std::int64_t>();
  out.applied_customers = applied[0][1].as<std::int64_t>();
  return out;
}

struct EventFeeder::Impl {
  std::string stream;
  pqxx::connection conn;
  nats::Connection nc;
  nats::Publisher js;
  std::map<std::string, std::int64_t> versions;

  Impl(const std::string& db, const std::string& nats_url, std::string s)
      : stream(std::move(s)), conn(db), nc(nats::Connection::connect(nats_url, "feeder")), js(nc) {
    nats::StreamSpec spec;
    spec.name = stream;
    nats::StreamAdmin(nc).ensure_stream(spec);  // subjects: codec::stream_subject_filter
    conn.prepare(
        "feed_append",
        "WITH ev AS (INSERT INTO events (event_id, stream_id, version, type, schema_version, "
        "data, metadata) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5::jsonb, '{}'::jsonb) "
        "RETURNING event_id, position, recorded_at), "
        "gl AS (INSERT INTO global_log (global_position, position) "
        "SELECT coalesce((SELECT max(global_position) FROM global_log), 0) + 1, position FROM ev "
        "RETURNING global_position) "
        "SELECT ev.event_id::text, ev.position, gl.global_position, "
        "(extract(epoch from ev.recorded_at) * 1000000)::bigint FROM ev, gl");
  }
};

EventFeeder::EventFeeder(std::string database_url, std::string nats_url, std::string stream)
    : impl_(std::make_unique<Impl>(database_url, nats_url, std::move(stream))) {}
EventFeeder::~EventFeeder() = default;

codec::RecordedEvent EventFeeder::append(const std::string& order_id, const domain::Event& e,
                                         bool publish_it) {
  codec::RecordedEvent r;
  r.stream_id = order_id;
  r.version = ++impl_->versions[order_id];
  r.type = std::string(domain::event_type(e));
  r.schema_version = codec::current_schema_version(r.type);
  r.data = codec::encode_event_data(e);
  r.metadata = nlohmann::json::object();
  {
    pqxx::work tx(impl_->conn);
    auto row = tx.exec_prepared1("feed_append", r.stream_id, r.version, r.type, r.schema_version,
                                 r.data.dump());
    tx.commit();
    r.event_id = row[0].as<std::string>();
    r.position = row[1].as<std::int64_t>();
    r.global_position = row[2].as<std::int64_t>();
    r.recorded_at_us = row[3].as<std::int64_t>();
  }
  if (publish_it) publish(r);
  return r;
}

void EventFeeder::publish(const codec::RecordedEvent& e, std::optional<std::string> msg_id) {
  nats::OutMessage m;
  m.subject = codec::subject_for(impl_->stream, e.stream_id);
  m.data = codec::wire_json(e);
  m.msg_id = msg_id.value_or(e.event_id);
  auto ack = impl_->js.publish(m);
  if (!ack.ok) throw std::runtime_error("publish failed: " + ack.error);
}

void EventFeeder::seed(const std::string& order_id, const std::string& customer_id, int steps) {
  const std::vector<domain::Event> all = {
      domain::OrderCreated{order_id, customer_id}, domain::OrderItemAdded{"product-1", 2, 1000},
      domain::OrderItemAdded{"product-2", 1, 1500}, domain::OrderConfirmed{},
      domain::OrderShipped{"TRK123456"}};
  for (int i = 0; i < steps && i < static_cast<int>(all.size()); ++i)
    append(order_id, all[static_cast<std::size_t>(i)]);
}

bool wait_for_read_model(const std::string& database_url, std::chrono::milliseconds deadline,
                         ModelCheck& last) {
  return wait_until(
      [&] {
        last = check_read_model(database_url);
        return last.equal() && last.applied_orders == last.events &&
               last.applied_customers == last.events;
      },
      deadline, std::chrono::milliseconds(100));
}

std::string describe(const ModelCheck& c) {
  return "diverged=" + std::to_string(c.diverged) + " events=" + std::to_string(c.events) +
         " applied_orders=" + std::to_string(c.applied_orders) +
         " applied_customers=" + std::to_string(c.applied_customers) + "\n" + c.differences;
}

}  // namespace orders::testing::read_side
