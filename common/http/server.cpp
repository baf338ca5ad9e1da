// Accepting connections, the session registry, start and graceful stop. A connection's life is in
// session.cpp, a request's in dispatch.cpp.
#include "common/http/server.hpp"

#include "common/http/detail/server_impl.hpp"
#include "common/log/logger.hpp"

namespace orders::http {

Server::Impl::Impl(ServerOptions o, Router r, log::Logger& l, metrics::Registry& m)
    : opts(std::move(o)),
      router(std::move(r)),
      logger(l),
      metrics(m),
      ioc(static_cast<int>(std::max<std::size_t>(1, opts.io_threads))),
      accept_strand(asio::make_strand(ioc)),
      acceptor(accept_strand),
      work_guard(asio::make_work_guard(ioc)) {}

asio::awaitable<void> Server::Impl::accept_loop() {
  while (!stopping.load()) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), use_tuple);
    if (ec) {
      if (stopping.load() || !acceptor.is_open() || ec == asio::error::operation_aborted) co_return;
      // EMFILE and friends: back off a little instead of spinning.
      logger.warn("accept failed", {{"error", ec.message()}});
      asio::steady_timer t(accept_strand, std::chrono::milliseconds(50));
      co_await t.async_wait(use_tuple);
      continue;
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::shared_ptr<SessionCtx> ctx;
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mu);
      if (connections < opts.max_connections) {
        ctx = std::make_shared<SessionCtx>(std::move(socket));
        id = ++next_session;
        ++connections;
        sessions[id] = ctx;
      }
    }
    if (!ctx) {
      auto ex = socket.get_executor();
      asio::co_spawn(ex, reject_busy(std::move(socket)), asio::detached);
      continue;
    }
    auto ex = ctx->stream.get_executor();
    asio::co_spawn(ex, session(std::move(ctx), id), asio::detached);
  }
}

void Server::Impl::session_ended(std::uint64_t id) {
  {
    std::lock_guard lock(mu);
    sessions.erase(id);
    --connections;
  }
  cv.notify_all();
}

Server::Server(ServerOptions options, Router router, log::Logger& logger,
               metrics::Registry& metrics)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(router), logger, metrics)) {}

Server::~Server() {
  try {
    stop(std::chrono::milliseconds(1000));
  } catch (...) {
  }
}

void Server::start() {
  auto& im = *impl_;
  std::lock_guard stop_lock(im.stop_mu);
  if (im.started) throw std::logic_error("Server::start called twice");
  const tcp::endpoint endpoint(asio::ip::make_address(im.opts.address), im.opts.port);
  im.acceptor.open(endpoint.protocol());
  im.acceptor.set_option(asio::socket_base::reuse_address(true));
  im.acceptor.bind(endpoint);
  im.acceptor.listen(asio::socket_base::max_listen_connections);
  im.bound_port = im.acceptor.local_endpoint().port();
  im.workers.emplace(std::max<std::size_t>(1, im.opts.worker_threads));
  asio::co_spawn(im.accept_strand, im.accept_loop(), asio::detached);
  for (std::size_t i = 0; i < std::max<std::size_t>(1, im.opts.io_threads); ++i) {
    im.io_threads.emplace_back([&im] {
      for (;;) {
        try {
          im.ioc.run();
          return;
        } catch (const std::exception& e) {
          im.logger.error("io thread caught an exception", {{"error", e.what()}});
        }
      }
    });
  }
  im.started = true;
  im.logger.info(
      "http server listening",
      {{"address", im.opts.address}, {"port", im.bound_port}, {"service", im.opts.service_name}});
}

std::uint16_t Server::port() const {
  return impl_->bound_port;
}

void Server::stop(std::chrono::milliseconds grace) {
  auto& im = *impl_;
  std::lock_guard stop_lock(im.stop_mu);
  if (!im.started || im.stopped) return;
  im.stopping.store(true);
  const auto deadline = std::chrono::steady_clock::now() + grace;

  auto for_each_session = [&im](auto fn) {
    std::vector<std::shared_ptr<SessionCtx>> live;
    {
      std::lock_guard lock(im.mu);
      for (auto& [id, weak] : im.sessions)
        if (auto s = weak.lock()) live.push_back(std::move(s));
    }
    for (auto& s : live) {
      asio::post(s->stream.get_executor(), [s, fn] { fn(*s); });
    }
  };

  // 1. Stop accepting; close connections parked between requests.
  asio::post(im.accept_strand, [&im] {
    beast::error_code ignored;
    im.acceptor.close(ignored);
  });
  for_each_session([](SessionCtx& s) {
    if (s.idle) s.stream.cancel();
  });
  // 2. Let in-flight requests finish (each closes its connection after its response).
  {
    std::unique_lock lock(im.mu);
    im.cv.wait_until(lock, deadline, [&im] { return im.connections == 0; });
  }
  // 3. Past the grace period: close whatever is left.
  for_each_session([](SessionCtx& s) {
    beast::error_code ignored;
    s.stream.socket().close(ignored);
  });
  {
    std::unique_lock lock(im.mu);
    im.cv.wait_for(lock, std::chrono::milliseconds(500), [&im] { return im.connections == 0; });
  }
  im.work_guard.reset();
  im.ioc.stop();
  for (auto& t : im.io_threads) t.join();
  im.io_threads.clear();
  if (im.workers) {
    im.workers->stop();
    im.workers->join();
  }
  im.logger.info("http server stopped", {{"service", im.opts.service_name}});
  {
    std::lock_guard lock(im.mu);
    im.stopped = true;
  }
  im.cv.notify_all();
}

void Server::wait() {
  auto& im = *impl_;
  std::unique_lock lock(im.mu);
  im.cv.wait(lock, [&im] { return im.stopped; });
}

}  // namespace orders::http
