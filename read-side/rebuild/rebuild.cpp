#include "read-side/rebuild/rebuild.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <set>
#include <sstream>

#include <pqxx/pqxx>

#include "common/cli/exit_code.hpp"
#include "common/pg/sqlstate.hpp"
#include "read-side/projector/locks.hpp"
#include "read-side/rebuild/replay.hpp"

namespace orders::read_side::rebuild {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int projection_index(const ProjectionDef& p) {
  const auto& all = projections();
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].name == p.name) return static_cast<int>(i);
  }
  throw RebuildError("unknown projection " + p.name);
}

std::string names_of(const std::vector<ProjectionDef>& ps) {
  std::string out;
  for (const auto& p : ps) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

void prepare_lock_statements(pqxx::connection& conn) {
  conn.prepare("rb_try_run_lock", "SELECT pg_try_advisory_lock($1::int, $2::int)");
  conn.prepare("rb_run_unlock", "SELECT pg_advisory_unlock($1::int, $2::int)");
  conn.prepare("rb_run_lock_holder",
               "SELECT l.pid, coalesce(to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ'), '?'),"
               " coalesce(a.application_name, '') FROM pg_locks l"
               " LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
               " WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1"
               " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
               " AND l.objid::bigint = $2 AND l.objsubid = 2 LIMIT 1");
  conn.prepare("rb_cutover_lock", "SELECT pg_advisory_xact_lock($1::int, $2::int)");
  conn.prepare("rb_lock_timeout", "SELECT set_config('lock_timeout', $1, true)");
  conn.prepare("rb_unsettled",
               "SELECT coalesce(jsonb_agg(DISTINCT e.stream_id), '[]')::text FROM global_log g"
               " JOIN all_events e ON e.position = g.position WHERE g.global_position > $1");
  conn.prepare("rb_live_low",
               "SELECT min(last_global_position) FROM projection_checkpoints WHERE projection IN "
               "(SELECT jsonb_array_elements_text($1::jsonb))");
}

// Session locks, released by RunLocks when the run ends. (Not left to the connection's close: a
// closed connection's backend releases its locks only when it exits, a moment later, so a rebuild
// started right after another one ended could be refused.)
void release_run_locks(pqxx::connection& conn, const std::vector<int>& held) noexcept {
  try {
    pqxx::nontransaction n(conn);
    for (int idx : held) n.exec_prepared("rb_run_unlock", kRebuildRunLockClass, idx);
  } catch (const std::exception&) {
    // The connection is gone: so are its locks.
  }
}

struct RunLocks {
  pqxx::connection& conn;
  std::vector<int> held;
  ~RunLocks() { release_run_locks(conn, held); }
};

void take_run_locks(RunLocks& locks, const std::vector<ProjectionDef>& ps) {
  pqxx::nontransaction n(locks.conn);
  for (const auto& p : ps) {
    const int idx = projection_index(p);
    if (n.exec_prepared1("rb_try_run_lock", kRebuildRunLockClass, idx)[0].as<bool>()) {
      locks.held.push_back(idx);
      continue;
    }
    std::string who;
    auto r = n.exec_prepared("rb_run_lock_holder", kRebuildRunLockClass, idx);
    if (!r.empty()) {
      who = " (Postgres backend pid " + r[0][0].as<std::string>() + ", connected " +
            r[0][1].as<std::string>() + ")";
    }
    throw AlreadyRunning("a rebuild of projection '" + p.name + "' is already running" + who +
                         "; refusing to start another one. Wait for it to finish.");
  }
}

nlohmann::json checkpoint_rows(const FoldTotals& totals) {
  auto rows = nlohmann::json::array();
  const auto& parts = totals.partitions;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].events == 0) continue;
    rows.push_back({{"partition", static_cast<int>(i)},
                    {"last_global_position", parts[i].last_global_position},
                    {"last_recorded_at_us", parts[i].last_recorded_at_us},
                    {"events_applied", parts[i].events}});
  }
  return rows;
}

std::vector<const OrderView*> pointers(const std::vector<OrderView>& views) {
  std::vector<const OrderView*> out;
  out.reserve(views.size());
  for (const auto& v : views) out.push_back(&v);
  return out;
}

// Best-effort undo of a failed or dry run: drop the shadows, projections live again.
void cleanup(const std::string& url, pqxx::connection* conn, const std::vector<ProjectionDef>& ps,
             Progress& progress) {
  auto attempt = [&](pqxx::connection& c) {
    pqxx::work tx(c);
    for (const auto& p : ps) {
      drop_shadow(tx, p);
      set_projection_state(tx, p.name, "live");
    }
    tx.commit();
  };
  try {
    if (conn != nullptr && conn->is_open()) {
      attempt(*conn);
      return;
    }
  } catch (const std::exception&) {
    // fall through to a fresh connection
  }
  try {
    pqxx::connection fresh(url);
    prepare_shadow_statements(fresh);
    attempt(fresh);
  } catch (const std::exception& e) {
    progress.note(std::string("warning: could not drop the shadow tables: ") + e.what() +
                  " (the next rebuild drops them)");
  }
}

// Takes the table locks of the swap with a short lock_timeout per attempt (a query waiting
// behind the swap's ACCESS EXCLUSIVE request waits at most that long), retrying in a savepoint.
void swap_with_retries(pqxx::dbtransaction& tx, const std::vector<ProjectionDef>& ps,
                       const RebuildOptions& o, Progress& progress) {
  for (int attempt = 1;; ++attempt) {
    try {
      pqxx::subtransaction sub(tx, "rebuild_swap");
      sub.exec_prepared("rb_lock_timeout", std::to_string(o.swap_lock_timeout.count()) + "ms");
      for (const auto& p : ps) swap_in_shadow(sub, p);
      sub.exec_prepared("rb_lock_timeout", "0");
      sub.commit();
      return;
    } catch (const pqxx::sql_error& e) {
      if (!pg::has_sqlstate(e, pg::sqlstate::kLockNotAvailable) || attempt >= o.swap_attempts)
        throw;
      progress.note("swap: tables busy (lock timeout), retrying (" + std::to_string(attempt) + "/" +
                    std::to_string(o.swap_attempts) + ")");
    }
  }
}

std::vector<ProjectionDef> in_index_order(std::vector<ProjectionDef> ps) {
  std::sort(ps.begin(), ps.end(),
            [](const auto& a, const auto& b) { return projection_index(a) < projection_index(b); });
  return ps;
}

std::int64_t head_now(pqxx::connection& ctl) {
  pqxx::read_transaction tx(ctl);
  return read_head(tx);
}

// Marks the projections rebuilding and creates their empty shadow tables.
void prepare_shadows(pqxx::connection& ctl, const std::vector<ProjectionDef>& ps,
                     const RebuildOptions& o) {
  pqxx::work tx(ctl);
  for (const auto& p : ps) {
    set_projection_state(tx, p.name, "rebuilding");
    create_shadow(tx, p, o.unlogged_load);
  }
  tx.commit();
}

// What the shadows hold so far.
struct RunState {
  std::int64_t position = 0;  // every event up to this global position is folded in
  std::int64_t orders = 0;    // rows per table
  FoldTotals totals;
};

// Copies finished views into every projection's shadow (one COPY transaction per projection).
void copy_ready(pqxx::connection& writer, const std::vector<ProjectionDef>& ps, OrderFolder& folder,
                const RebuildOptions& o, std::atomic<std::int64_t>& rows) {
  const auto views = folder.take_ready();
  if (views.empty()) return;
  const auto ptrs = pointers(views);
  for (const auto& p : ps) copy_views(writer, p, ptrs, o.copy_chunk_rows);
  rows += static_cast<std::int64_t>(views.size());
}

// One fold worker: streams the orders of a range (events <= upto, order by order) and copies
// their views into the shadows every copy_chunk_rows orders. Memory: a page and a chunk.
struct OrderPage {
  std::vector<codec::RecordedEvent> events;
  std::size_t bytes = 0;
  int limit = 0;
};

FoldTotals fold_range(const std::string& url, const std::vector<ProjectionDef>& ps,
                      const OrderRange& range, std::int64_t upto, const RebuildOptions& o,
                      std::atomic<std::int64_t>& events, std::atomic<std::int64_t>& rows,
                      const std::atomic<bool>& stop) {
  pqxx::connection reader(url);
  // (order id, version) ranges of the events index, each event's global_log row by its key: an
  // index nested loop; a hash join would scan the whole global_log for every page.
  reader.set_variable("enable_hashjoin", "off");
  reader.set_variable("enable_mergejoin", "off");
  reader.set_variable("max_parallel_workers_per_gather", "0");
  prepare_order_statements(reader);
  pqxx::connection writer(url);
  auto fetch = [&](std::string after_id, std::int64_t after_version, int limit) {
    OrderPage page;
    page.limit = limit;
    pqxx::read_transaction tx(reader);
    page.events = read_order_page(tx, range, after_id, after_version, upto, limit, &page.bytes);
    return page;
  };
  OrderFolder folder;
  // One page read ahead (on the reader connection) while this one is folded and copied.
  auto next = std::async(std::launch::async, fetch, range.from, std::int64_t{0}, o.page_size);
  while (true) {
    auto page = next.get();
    const bool last = static_cast<int>(page.events.size()) < page.limit || stop;
    if (!last) {
      // Large events: fewer per page, so a page stays about page_bytes.
      const double scale = static_cast<double>(o.page_bytes) / static_cast<double>(page.bytes + 1);
      const int limit =
          std::clamp(static_cast<int>(page.limit * std::min(2.0, scale)), 100, o.page_size);
      next = std::async(std::launch::async, fetch, page.events.back().stream_id,
                        page.events.back().version, limit);
    }
    for (const auto& e : page.events) folder.add(e);
    events += static_cast<std::int64_t>(page.events.size());
    if (last) break;
    if (folder.ready_count() >= o.copy_chunk_rows || folder.ready_bytes() >= o.copy_chunk_bytes)
      copy_ready(writer, ps, folder, o, rows);
  }
  folder.finish();
  copy_ready(writer, ps, folder, o, rows);
  return folder.totals();
}

// Waits for the workers, showing progress; the first error stops the others and is rethrown.
FoldTotals await_folds(std::vector<std::future<FoldTotals>>& tasks,
                       const std::atomic<std::int64_t>& events, std::atomic<bool>& stop,
                       Progress& progress) {
  FoldTotals totals;
  std::exception_ptr error;
  for (auto& t : tasks) {
    while (t.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      progress.update(events.load());
    }
    try {
      totals.merge(t.get());
    } catch (...) {
      stop = true;
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return totals;
}

// Phase 1: folds every order of the store up to the head, order by order, in fold_workers
// ranges of order ids in parallel, copying the views into the shadows as it goes (memory stays
// bounded whatever the store's size). Returns its seconds.
double fold_into_shadows(const std::string& url, pqxx::connection& ctl,
                         const std::vector<ProjectionDef>& ps, const RebuildOptions& o,
                         Progress& progress, RunState& st) {
  const auto started = Clock::now();
  const std::int64_t head = head_now(ctl);
  std::vector<OrderRange> ranges;
  {
    pqxx::read_transaction tx(ctl);
    ranges = split_orders(tx, o.fold_workers);
  }
  progress.note("rebuild " + names_of(ps) + ": folding " + with_thousands(head) +
                " events from the event store into shadow tables, order by order (" +
                std::to_string(ranges.size()) + " workers)" + (o.dry_run ? " (dry run)" : ""));
  progress.begin("fold+copy", head);
  std::atomic<std::int64_t> events{0};
  std::atomic<std::int64_t> rows{0};
  std::atomic<bool> stop{false};
  std::vector<std::future<FoldTotals>> tasks;
  for (const auto& range : ranges) {
    tasks.push_back(std::async(std::launch::async, [&, range] {
      return fold_range(url, ps, range, head, o, events, rows, stop);
    }));
  }
  st.totals = await_folds(tasks, events, stop, progress);
  progress.update(events.load());
  progress.end();
  st.position = head;
  st.orders = rows.load();
  const double secs = since(started);
  char buf[200];
  std::snprintf(buf, sizeof buf, "fold+copy: %s orders into %zu shadow tables in %.2f s",
                with_thousands(st.orders).c_str(), ps.size() * 2, secs);
  progress.note(buf);
  return secs;
}

// Phase 2: the live tables' indexes on the shadows, one connection per projection. Seconds.
double index_shadows(const std::string& url, const std::vector<ProjectionDef>& ps,
                     Progress& progress) {
  const auto started = Clock::now();
  progress.note("index: building the live tables' indexes on the shadow tables");
  std::vector<std::future<int>> tasks;
  for (const auto& p : ps) {
    tasks.push_back(std::async(std::launch::async, [&url, p] {
      pqxx::connection conn(url);
      prepare_shadow_statements(conn);
      return index_shadow(conn, p);
    }));
  }
  int built = 0;
  for (auto& t : tasks) built += t.get();
  const double secs = since(started);
  char buf[160];
  std::snprintf(buf, sizeof buf, "index: %d indexes built, logged and analyzed in %.2f s", built,
                secs);
  progress.note(buf);
  return secs;
}

// Folds the events in (st.position, upto] into the shadows, a page of the log at a time: the
// orders a page touches are folded again from the store (their events up to the page's end) and
// upserted. Memory: a page's orders.
void apply_tail(pqxx::transaction_base& tx, const std::vector<ProjectionDef>& ps, RunState& st,
                std::int64_t upto, int page_size) {
  while (st.position < upto) {
    const auto page = read_page(tx, st.position, upto, page_size);
    if (page.empty())
      throw RebuildError("the global log ends before its head " + std::to_string(upto));
    const std::int64_t end = page.back().global_position.value_or(upto);
    std::vector<std::string> ids;
    std::set<std::string> seen;
    std::set<std::string> created;
    for (const auto& e : page) {
      if (seen.insert(e.stream_id).second) ids.push_back(e.stream_id);
      if (e.version == 1) created.insert(e.stream_id);
    }
    OrderFolder folder;
    for (const auto& e : read_orders(tx, ids, end)) folder.add(e);
    folder.finish();
    auto& parked = st.totals.parked;
    for (const auto& id : ids) parked.erase(id);
    for (const auto& [id, p] : folder.totals().parked) parked[id] = p;
    for (const auto& e : page) {
      auto it = parked.find(e.stream_id);
      if (it == parked.end() || it->second.first_position > e.global_position.value_or(0))
        st.totals.count(e);
    }
    const auto views = folder.take_ready();
    for (const auto& v : views) st.orders += created.count(v.state.order_id);
    const auto ptrs = pointers(views);
    for (const auto& p : ps) upsert_shadow(tx, p, ptrs);
    st.position = end;
  }
}

// Phase 3: catches up with what was appended meanwhile (upserts into the indexed shadows).
void catch_up(pqxx::connection& ctl, RunState& st, const std::vector<ProjectionDef>& ps,
              const RebuildOptions& o, Progress& progress) {
  for (int round = 0; round < o.max_catch_up_rounds; ++round) {
    const std::int64_t head = head_now(ctl);
    if (head - st.position <= o.near_head) break;
    progress.begin("catch-up", head - st.position);
    const auto from = st.position;
    pqxx::work tx(ctl);
    apply_tail(tx, ps, st, head, o.page_size);
    tx.commit();
    progress.update(st.position - from);
    progress.end();
  }
}

// Phase 4, before the cutover lock (the live projector keeps applying): compares the orders
// settled at a snapshot (no event after the lower of the shadows' and the live checkpoints'
// positions) between each shadow and its live table; the others are compared under the lock.
std::vector<Comparison> compare_settled(pqxx::connection& ctl, const RunState& st,
                                        const std::vector<ProjectionDef>& ps,
                                        const RebuildOptions& o, Progress& progress) {
  const auto started = Clock::now();
  pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::read_only> tx(ctl);
  auto names = nlohmann::json::array();
  for (const auto& p : ps) names.push_back(p.name);
  const auto low = tx.exec_prepared1("rb_live_low", names.dump());
  std::int64_t settled = st.position;
  if (!low[0].is_null()) settled = std::min(settled, low[0].as<std::int64_t>());
  // A live projector far behind: its missing rows are differences ("behind"), not deferred.
  settled = std::max(settled, st.position - o.verify_window);
  std::vector<Comparison> out;
  for (const auto& p : ps) {
    Comparison c;
    static_cast<ComparisonPart&>(c) =
        compare_with_live(tx, p, o.diff_examples, CompareScope::Settled, settled);
    c.settled_through = settled;
    out.push_back(std::move(c));
  }
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "compare: orders settled at global position %s compared in %.2f s, before the "
                "cutover lock",
                with_thousands(settled).c_str(), since(started));
  progress.note(buf);
  return out;
}

// Under the cutover lock: the final tail, then the orders with events after the settled
// position compared (by key: proportional to what changed since the compare).
void verify_delta(pqxx::work& tx, RunState& st, const std::vector<ProjectionDef>& ps,
                  const RebuildOptions& o, std::vector<Comparison>& comparisons, Progress& progress,
                  RebuildResult& result) {
  const auto from = st.position;
  apply_tail(tx, ps, st, read_head(tx), o.page_size);
  const auto settled = comparisons.empty() ? st.position : comparisons[0].settled_through;
  const auto keys = tx.exec_prepared1("rb_unsettled", settled)[0].as<std::string>();
  for (std::size_t i = 0; i < ps.size(); ++i) {
    auto& c = comparisons[i];
    c.delta = compare_with_live(tx, ps[i], o.diff_examples, CompareScope::Keys, 0, keys);
    progress.note(describe(ps[i], c));
    result.projections.push_back({ps[i].name, c});
  }
  progress.note("cutover: final tail of " + with_thousands(st.position - from) +
                " events applied, event store folded through global position " +
                with_thousands(st.position) + " (" + with_thousands(st.totals.events) +
                " events, " + with_thousands(st.orders) + " orders)");
  result.events = st.totals.events;
  result.orders = st.orders;
  result.last_global_position = st.position;
  result.parked = st.totals.parked;
}

// Phase 5: the verified cutover, one transaction under the cutover locks (the live projector
// waits from the lock request to the commit: the hold): final tail, delta compare, then swap
// the shadows in with their checkpoints (or, in a dry run, drop them). `swapped` is set as soon
// as the swap committed (nothing to undo after that).
void cutover(const std::string& url, pqxx::connection& ctl, RunState& st,
             const std::vector<ProjectionDef>& ps, const RebuildOptions& o,
             std::vector<Comparison> comparisons, Progress& progress, RebuildResult& result,
             bool& swapped) {
  pqxx::work tx(ctl);
  for (const auto& p : ps) hold_off_vacuum(tx, p);  // before the hold: may wait ~1 s per table
  const auto requested = Clock::now();
  for (const auto& p : ps)
    tx.exec_prepared("rb_cutover_lock", kCutoverLockClass, projection_index(p));
  result.lock_wait_seconds = since(requested);
  verify_delta(tx, st, ps, o, comparisons, progress, result);
  if (o.dry_run) {
    tx.abort();
    result.cutover_seconds = since(requested);
    cleanup(url, &ctl, ps, progress);
    progress.note("dry run: shadow tables dropped, live tables unchanged");
    return;
  }
  const auto checkpoints = checkpoint_rows(st.totals);
  for (const auto& p : ps) {
    replace_checkpoints(tx, p.name, checkpoints);
    set_projection_state(tx, p.name, "live");
  }
  swap_with_retries(tx, ps, o, progress);
  tx.commit();
  swapped = true;
  result.cutover_seconds = since(requested);
  result.swapped = true;
  char buf[240];
  std::snprintf(buf, sizeof buf,
                "swapped in: %s live again; projector held %.3f s by the cutover lock (of which "
                "%.3f s waiting for in-flight applies)",
                names_of(ps).c_str(), result.cutover_seconds, result.lock_wait_seconds);
  progress.note(buf);
}

}  // namespace

RebuildResult rebuild(const std::string& url, const RebuildOptions& o, Progress& progress) {
  if (o.projections.empty()) throw RebuildError("no projection to rebuild");
  const auto ps = in_index_order(o.projections);
  const auto started = Clock::now();
  RebuildResult result;

  pqxx::connection ctl(url);
  prepare_lock_statements(ctl);
  prepare_replay_statements(ctl);
  prepare_order_statements(ctl);
  prepare_shadow_statements(ctl);
  RunLocks run_locks{ctl, {}};
  take_run_locks(run_locks, ps);  // throws AlreadyRunning: nothing touched

  bool swapped = false;
  try {
    prepare_shadows(ctl, ps, o);
    RunState st;
    result.replay_seconds = fold_into_shadows(url, ctl, ps, o, progress, st);
    result.write_seconds = index_shadows(url, ps, progress);
    catch_up(ctl, st, ps, o, progress);
    const auto compare_started = Clock::now();
    auto comparisons = compare_settled(ctl, st, ps, o, progress);
    result.compare_seconds = since(compare_started);
    catch_up(ctl, st, ps, o, progress);  // what arrived during the compare
    cutover(url, ctl, st, ps, o, std::move(comparisons), progress, result, swapped);
  } catch (...) {
    if (!swapped) cleanup(url, &ctl, ps, progress);
    throw;
  }
  result.seconds = since(started);
  return result;
}

std::string rebuild_usage() {
  std::ostringstream out;
  out << "Usage: read-side rebuild-projection NAME... | --all [--dry-run]\n"
         "  Rebuilds projections from the event store into shadow tables, catches up, compares\n"
         "  them with the live tables and swaps them in atomically (queries keep being served).\n"
         "  --all      every projection\n"
         "  --dry-run  build and compare, then drop the shadow tables (live tables unchanged)\n"
         "Projections:";
  for (const auto& p : projections()) out << " " << p.name << " (table " << p.table << ")";
  out << "\nSettings (environment):\n"
         "  REBUILD_FOLD_WORKERS=2         ranges of order ids folded in parallel\n"
         "  REBUILD_PAGE_EVENTS=20000      events per page of the fold\n"
         "  REBUILD_PAGE_BYTES=4194304     and at most about this many bytes per page\n"
         "  REBUILD_CHUNK_BYTES=16777216   finished views copied once they take this much memory\n"
         "  (a worker holds about a page and a chunk: memory does not grow with the store)";
  out << "\nExit: 0 success, 64 usage error, 69 PostgreSQL unreachable, 70 failure (live tables\n"
         "  untouched), 75 a rebuild of the projection is already running\n";
  return out.str();
}

namespace {

// The orders the replay parked (not a failure: the live projector parks the same events).
void report_parked(const RebuildResult& r, std::ostream& out) {
  if (r.parked.empty()) return;
  std::int64_t events = 0;
  for (const auto& [id, p] : r.parked) events += p.events;
  out << "parked: " << events << " events of " << r.parked.size()
      << " orders do not fold and were left out (see `read-side parked`; fix, then `read-side "
         "unpark ORDER_ID`):\n";
  for (const auto& [id, p] : r.parked) {
    out << "  " << id << ": " << p.events << " events from global position " << p.first_position
        << ": " << p.error << "\n";
  }
  out.flush();
}

}  // namespace

namespace {

// REBUILD_* environment settings (rebuild_usage() lists them); false after a message on err.
bool read_tuning(RebuildOptions& o, std::ostream& err) {
  struct Setting {
    const char* env;
    std::int64_t min;
    std::function<void(std::int64_t)> set;
  };
  const Setting settings[] = {
      {"REBUILD_FOLD_WORKERS", 1, [&](std::int64_t v) { o.fold_workers = static_cast<int>(v); }},
      {"REBUILD_PAGE_EVENTS", 100, [&](std::int64_t v) { o.page_size = static_cast<int>(v); }},
      {"REBUILD_PAGE_BYTES", 65536,
       [&](std::int64_t v) { o.page_bytes = static_cast<std::size_t>(v); }},
      {"REBUILD_CHUNK_BYTES", 65536,
       [&](std::int64_t v) { o.copy_chunk_bytes = static_cast<std::size_t>(v); }},
  };
  for (const auto& s : settings) {
    const char* v = std::getenv(s.env);
    if (v == nullptr || *v == '\0') continue;
    char* end = nullptr;
    const long long n = std::strtoll(v, &end, 10);
    if (*end != '\0' || n < s.min || n > (1LL << 40)) {
      err << "rebuild-projection: " << s.env << "=" << v << ": expected an integer >= " << s.min
          << "\n";
      return false;
    }
    s.set(n);
  }
  return true;
}

}  // namespace

int rebuild_projection_main(const std::string& database_url, const std::vector<std::string>& args,
                            std::ostream& out, std::ostream& err, bool tty) {
  RebuildOptions options;
  if (!read_tuning(options, err)) return cli::kUsage;
  bool all = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      out << rebuild_usage();
      return 0;
    } else if (a == "--dry-run") {
      options.dry_run = true;
    } else if (a == "--all") {
      all = true;
    } else if (!a.empty() && a[0] == '-') {
      err << "rebuild-projection: unknown option " << a << "\n" << rebuild_usage();
      return cli::kUsage;
    } else if (auto p = find_projection(a)) {
      if (std::none_of(options.projections.begin(), options.projections.end(),
                       [&](const auto& q) { return q.name == p->name; })) {
        options.projections.push_back(*p);
      }
    } else {
      err << "rebuild-projection: unknown projection '" << a << "'\n" << rebuild_usage();
      return cli::kUsage;
    }
  }
  if (all) options.projections = projections();
  if (options.projections.empty()) {
    err << "rebuild-projection: name a projection or pass --all\n" << rebuild_usage();
    return cli::kUsage;
  }
  Progress progress(out, tty);
  try {
    const auto r = rebuild(database_url, options, progress);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s: %s events, %s orders in %.2f s (%s events/s; fold+copy %.2f s, index %.2f "
                  "s, compare %.2f s, projector held %.3f s)",
                  options.dry_run ? "dry run done" : "rebuild done",
                  with_thousands(r.events).c_str(), with_thousands(r.orders).c_str(), r.seconds,
                  with_thousands(r.seconds > 0 ? static_cast<std::int64_t>(
                                                     static_cast<double>(r.events) / r.seconds)
                                               : 0)
                      .c_str(),
                  r.replay_seconds, r.write_seconds, r.compare_seconds, r.cutover_seconds);
    out << buf << std::endl;
    report_parked(r, out);
    return 0;
  } catch (const AlreadyRunning& e) {
    out.flush();
    err << "rebuild-projection: " << e.what() << "\n";
    return cli::kTempFail;
  } catch (const std::exception& e) {
    out.flush();
    err << "\nrebuild-projection FAILED: " << e.what()
        << "\nThe live tables are untouched; the shadow tables were dropped.\n";
    return cli::exit_code_of(std::current_exception());
  }
}

}  // namespace orders::read_side::rebuild
