#include "read-side/rebuild/rebuild.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <future>
#include <optional>
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
               " AND l.objid::bigint = $2 AND l.objsubid = 2 LIMIT 1");
  conn.prepare("rb_cutover_lock", "SELECT pg_advisory_xact_lock($1::int, $2::int)");
  conn.prepare("rb_lock_timeout", "SELECT set_config('lock_timeout', $1, true)");
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

// Replays (after, upto] through a read-ahead reader into the state.
void replay_range(const std::string& url, ReplayState& state, std::int64_t upto, int page_size,
                  Progress& progress, std::int64_t done_before) {
  if (upto <= state.last_global_position()) return;
  PagePrefetcher pages(url, state.last_global_position(), upto, page_size);
  while (auto page = pages.next()) {
    state.apply(*page);
    progress.update(done_before + state.events());
  }
}

std::vector<const OrderView*> all_views(const ReplayState& state) {
  std::vector<const OrderView*> out;
  out.reserve(state.views().size());
  for (const auto& [id, v] : state.views()) out.push_back(&v);
  return out;
}

nlohmann::json checkpoint_rows(const ReplayState& state) {
  auto rows = nlohmann::json::array();
  const auto& parts = state.partitions();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].events == 0) continue;
    rows.push_back({{"partition", static_cast<int>(i)},
                    {"last_global_position", parts[i].last_global_position},
                    {"last_recorded_at_us", parts[i].last_recorded_at_us},
                    {"events_applied", parts[i].events}});
  }
  return rows;
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

// Phase 1: replays the log up to (near) the head, folding in memory; returns its seconds.
double replay_to_head(const std::string& url, pqxx::connection& ctl, ReplayState& state,
                      const std::vector<ProjectionDef>& ps, const RebuildOptions& o,
                      Progress& progress) {
  std::int64_t head = head_now(ctl);
  progress.note("rebuild " + names_of(ps) + ": replaying " + with_thousands(head) +
                " events from the event store into shadow tables" +
                (o.dry_run ? " (dry run)" : ""));
  const auto replay_started = Clock::now();
  progress.begin("replay", head);
  for (int round = 0;; ++round) {
    replay_range(url, state, head, o.page_size, progress, 0);
    head = head_now(ctl);
    if (head - state.last_global_position() <= o.near_head || round >= o.max_catch_up_rounds) break;
    progress.set_total(head);
  }
  progress.update(state.events());
  progress.end();
  return since(replay_started);
}

struct WriteOutcome {
  int indexes = 0;
  double copy_seconds = 0;
  double index_seconds = 0;
};

// One projection's bulk write on its own connection: COPY in chunks, then its indexes.
WriteOutcome write_shadow(const std::string& url, const ProjectionDef& p,
                          const std::vector<const OrderView*>& views, const RebuildOptions& o,
                          std::atomic<std::int64_t>& written) {
  WriteOutcome w;
  pqxx::connection conn(url);
  prepare_shadow_statements(conn);
  const auto t0 = Clock::now();
  for (std::size_t begin = 0; begin < views.size(); begin += o.copy_chunk_rows) {
    const auto end = std::min(views.size(), begin + o.copy_chunk_rows);
    std::vector<const OrderView*> chunk(views.begin() + static_cast<std::ptrdiff_t>(begin),
                                        views.begin() + static_cast<std::ptrdiff_t>(end));
    written += copy_views(conn, p, chunk, o.copy_chunk_rows);
  }
  w.copy_seconds = since(t0);
  const auto t1 = Clock::now();
  w.indexes = index_shadow(conn, p);
  w.index_seconds = since(t1);
  return w;
}

// Reports the writers' rows as they go (and when the copies are done, the index phase), then
// collects their outcomes (rethrowing a writer's error).
std::vector<WriteOutcome> await_writers(std::vector<std::future<WriteOutcome>>& tasks,
                                        const std::deque<std::atomic<std::int64_t>>& written,
                                        std::int64_t rows_total, Progress& progress) {
  bool copied = false;
  for (auto& t : tasks) {
    while (t.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
      if (copied) continue;
      std::int64_t sum = 0;
      for (const auto& w : written) sum += w.load();
      progress.update(sum);
      if (sum == rows_total) {
        progress.end();
        progress.note("building indexes on the shadow tables");
        copied = true;
      }
    }
  }
  std::vector<WriteOutcome> outcomes;
  outcomes.reserve(tasks.size());
  for (auto& t : tasks) outcomes.push_back(t.get());  // rethrows a writer's error
  if (!copied) {
    progress.update(rows_total);
    progress.end();
  }
  return outcomes;
}

// Phase 2: bulk write, then the indexes: one connection and thread per projection, in parallel.
// Returns its seconds.
double write_shadows(const std::string& url, const ReplayState& state,
                     const std::vector<ProjectionDef>& ps, const RebuildOptions& o,
                     Progress& progress) {
  const auto write_started = Clock::now();
  const auto views = all_views(state);
  const auto rows_total = static_cast<std::int64_t>(views.size() * ps.size());
  progress.begin("write", rows_total);
  std::deque<std::atomic<std::int64_t>> written(ps.size());
  std::vector<std::future<WriteOutcome>> tasks;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    tasks.push_back(std::async(std::launch::async,
                               [&, i] { return write_shadow(url, ps[i], views, o, written[i]); }));
  }
  const auto outcomes = await_writers(tasks, written, rows_total, progress);
  for (std::size_t i = 0; i < ps.size(); ++i) {
    char buf[200];
    std::snprintf(buf, sizeof buf,
                  "%s: %zu rows copied in %.2f s; %d indexes built, logged and analyzed in %.2f s",
                  shadow_table(ps[i]).c_str(), views.size(), outcomes[i].copy_seconds,
                  outcomes[i].indexes, outcomes[i].index_seconds);
    progress.note(buf);
  }
  return since(write_started);
}

// Phase 3: catches up with what was appended meanwhile (upserts into the indexed shadows).
void catch_up(const std::string& url, pqxx::connection& ctl, ReplayState& state,
              const std::vector<ProjectionDef>& ps, const RebuildOptions& o, Progress& progress) {
  state.track_changes(true);
  for (int round = 0; round < o.max_catch_up_rounds; ++round) {
    const std::int64_t head = head_now(ctl);
    if (head - state.last_global_position() <= o.near_head) break;
    const auto before = state.events();
    progress.begin("catch-up", head - state.last_global_position());
    replay_range(url, state, head, o.page_size, progress, -before);
    auto changed = state.take_changed();
    pqxx::work tx(ctl);
    for (const auto& p : ps) upsert_shadow(tx, p, changed);
    tx.commit();
    progress.end();
  }
}

// Under the cutover locks (writers of the projections wait): folds the last events into the
// shadows, so they hold the whole log up to its head.
void apply_final_tail(pqxx::work& tx, ReplayState& state, const std::vector<ProjectionDef>& ps,
                      const RebuildOptions& o, Progress& progress) {
  for (const auto& p : ps)
    tx.exec_prepared("rb_cutover_lock", kCutoverLockClass, projection_index(p));
  const std::int64_t head = read_head(tx);
  while (state.last_global_position() < head) {
    auto page = read_page(tx, state.last_global_position(), head, o.page_size);
    if (page.empty())
      throw RebuildError("the global log ends before its head " + std::to_string(head));
    state.apply(page);
  }
  const auto tail = state.take_changed();
  for (const auto& p : ps) upsert_shadow(tx, p, tail);
  progress.note("cutover: final tail applied, event store replayed through global position " +
                with_thousands(state.last_global_position()) + " (" +
                with_thousands(state.events()) + " events, " +
                with_thousands(static_cast<std::int64_t>(state.views().size())) + " orders)");
}

// Compares each shadow with its live table and records the totals of the replay.
void compare_with_live_tables(pqxx::work& tx, const ReplayState& state,
                              const std::vector<ProjectionDef>& ps, const RebuildOptions& o,
                              Progress& progress, RebuildResult& result) {
  for (const auto& p : ps) {
    auto c = compare_with_live(tx, p, o.diff_examples);
    progress.note(describe(p, c));
    result.projections.push_back({p.name, std::move(c)});
  }
  result.events = state.events();
  result.orders = static_cast<std::int64_t>(state.views().size());
  result.last_global_position = state.last_global_position();
  result.parked = state.parked();
}

// Phase 4: the verified cutover, one transaction under the cutover locks: final tail, compare,
// then swap the shadows in with their checkpoints (or, in a dry run, drop them). `swapped` is
// set as soon as the swap committed (nothing to undo after that).
void cutover(const std::string& url, pqxx::connection& ctl, ReplayState& state,
             const std::vector<ProjectionDef>& ps, const RebuildOptions& o, Progress& progress,
             RebuildResult& result, bool& swapped) {
  const auto cutover_started = Clock::now();
  pqxx::work tx(ctl);
  apply_final_tail(tx, state, ps, o, progress);
  compare_with_live_tables(tx, state, ps, o, progress, result);
  if (o.dry_run) {
    tx.abort();
    result.cutover_seconds = since(cutover_started);
    cleanup(url, &ctl, ps, progress);
    progress.note("dry run: shadow tables dropped, live tables unchanged");
    return;
  }
  const auto checkpoints = checkpoint_rows(state);
  for (const auto& p : ps) {
    replace_checkpoints(tx, p.name, checkpoints);
    set_projection_state(tx, p.name, "live");
  }
  swap_with_retries(tx, ps, o, progress);
  tx.commit();
  swapped = true;
  result.cutover_seconds = since(cutover_started);
  result.swapped = true;
  char buf[200];
  std::snprintf(buf, sizeof buf, "swapped in: %s live again (cutover transaction %.3f s)",
                names_of(ps).c_str(), result.cutover_seconds);
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
  prepare_shadow_statements(ctl);
  RunLocks run_locks{ctl, {}};
  take_run_locks(run_locks, ps);  // throws AlreadyRunning: nothing touched

  bool swapped = false;
  try {
    prepare_shadows(ctl, ps, o);
    ReplayState state;
    result.replay_seconds = replay_to_head(url, ctl, state, ps, o, progress);
    result.write_seconds = write_shadows(url, state, ps, o, progress);
    catch_up(url, ctl, state, ps, o, progress);
    cutover(url, ctl, state, ps, o, progress, result, swapped);
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

int rebuild_projection_main(const std::string& database_url, const std::vector<std::string>& args,
                            std::ostream& out, std::ostream& err, bool tty) {
  RebuildOptions options;
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
                  "%s: %s events, %s orders in %.2f s (%s events/s; replay %.2f s, write %.2f s, "
                  "cutover %.3f s)",
                  options.dry_run ? "dry run done" : "rebuild done",
                  with_thousands(r.events).c_str(), with_thousands(r.orders).c_str(), r.seconds,
                  with_thousands(r.seconds > 0 ? static_cast<std::int64_t>(
                                                     static_cast<double>(r.events) / r.seconds)
                                               : 0)
                      .c_str(),
                  r.replay_seconds, r.write_seconds, r.cutover_seconds);
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
