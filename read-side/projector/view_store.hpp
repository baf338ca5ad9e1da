// SQL of the read model, kept apart from the fold: loading the stored views of a set of orders,
// writing views back with one multi-row upsert (one jsonb parameter + jsonb_to_recordset), the
// per-partition checkpoints, and reading events back from the event store (gap fill, checks).
// Statement texts take the table name so rebuild-projection can aim them at shadow tables.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "common/codec/recorded_event.hpp"
#include "read-side/view/order_view.hpp"

namespace orders::read_side {

enum class ProjectionKind { Orders, Customers };

struct ProjectionDef {
  std::string name;   // "orders" / "customers": checkpoints, /projections, rebuild-projection
  std::string table;  // "orders" / "customer_orders"
  ProjectionKind kind;
};
// The two live projections.
const std::vector<ProjectionDef>& projections();
std::optional<ProjectionDef> find_projection(std::string_view name);

// The lines table of a projection table (or of its shadow): orders -> order_items,
// customer_orders -> customer_order_items, orders_shadow -> order_items_shadow.
std::string lines_table(const std::string& table);

// ---- statement texts ($1 = jsonb array of order ids / of records) ----
std::string load_views_sql(ProjectionKind kind, const std::string& table, bool for_update);
// Every row of a projection table, in the shape view_from_row reads.
std::string all_views_sql(ProjectionKind kind, const std::string& table);
std::string upsert_views_sql(ProjectionKind kind, const std::string& table);
// Columns of an event row (with its global position when sequenced), then a FROM clause.
extern const char* const kEventColumns;  // e.event_id::text, e.stream_id, ... (10 columns)
extern const char* const kEventFrom;     // all_events e LEFT JOIN global_log g ON ...

codec::RecordedEvent event_from_row(const pqxx::row& row);  // a row of kEventColumns
// A row of load_views_sql -> view.
OrderView view_from_row(ProjectionKind kind, const pqxx::row& row);
nlohmann::json record_for(ProjectionKind kind, const OrderView& v);

// ---- prepared statements on one connection (names prefixed "rs_") ----
void prepare_projector_statements(pqxx::connection& conn);

struct ViewWrite {
  const OrderView* view = nullptr;
  std::int64_t stored_version = 0;  // version of the stored row it replaces; 0: no row yet
};
// Versions [from, to] of one order from the event store, oldest first.
std::vector<codec::RecordedEvent> load_stream_events(pqxx::transaction_base& tx,
                                                     const std::string& order_id,
                                                     std::int64_t from_version,
                                                     std::int64_t to_version);

struct CheckpointAdvance {
  std::int64_t last_global_position = 0;  // highest stream sequence in the batch
  std::int64_t last_recorded_at_us = 0;
  std::int64_t events_applied = 0;  // distinct events newly applied
};
// ---- the live projector's batch: one read statement, one write statement
// (sql/functions/rs_apply_group.sql) ---- Stored views of the given orders of every projection
// (ids_by_projection in projections() order) and the oids of the projections' tables, in ONE
// statement (primary-key lookups).
struct LoadedViews {
  std::vector<std::map<std::string, OrderView>> by_projection;
  std::vector<std::int64_t> table_oids;  // projections() order
};
LoadedViews load_batch_views(pqxx::transaction_base& tx,
                             const std::vector<std::vector<std::string>>& ids_by_projection);

enum class BatchWrite { Written, TablesSwapped, Stale };
// One checkpoint row to advance: (projection, partition) unique within a write.
struct CheckpointRow {
  std::string projection;
  int partition = 0;
  CheckpointAdvance advance;
};
// rs_apply_group() (sql/functions/rs_apply_group.sql): run outside an explicit transaction it is
// its own transaction. Takes the cutover lock shared, checks the tables are still table_oids
// (empty: no check), writes every projection's rows (writes_by_projection in projections() order)
// and the checkpoints of every partition of the group, commits. TablesSwapped: nothing written.
// Stale: a row was not at its stored_version (or a row written as new exists): everything rolled
// back.
BatchWrite write_batch(pqxx::transaction_base& tx, const std::vector<std::int64_t>& table_oids,
                       const std::vector<std::vector<ViewWrite>>& writes_by_projection,
                       const std::vector<CheckpointRow>& checkpoints);

}  // namespace orders::read_side
