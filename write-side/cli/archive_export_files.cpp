#include "write-side/cli/archive_export_files.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "write-side/crypto/sha256.hpp"

namespace orders::write_side::cli {
namespace {

namespace fs = std::filesystem;

struct GzClose {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using Gz = std::unique_ptr<gzFile_s, GzClose>;

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Data on disk before the rename makes it visible under its final name.
void sync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + p.string() + " to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot sync " + p.string());
}

void publish(const fs::path& tmp, const fs::path& final_path) {
  sync_path(tmp);
  fs::rename(tmp, final_path);
  sync_path(final_path.parent_path());
}

nlohmann::json manifest_json(const ExportManifest& m) {
  auto files = nlohmann::json::array();
  for (const auto& f : m.files) {
    files.push_back({{"name", f.name},
                     {"events", f.events},
                     {"first_position", f.first_position},
                     {"last_position", f.last_position},
                     {"bytes", f.bytes},
                     {"sha256", f.sha256}});
  }
  return {{"format", "orders-archive-export/1: gzip NDJSON, one stored event per line"},
          {"year", m.year},
          {"events", m.events},
          {"files", std::move(files)}};
}

// The lines of one gzip file, checked against its manifest entry; "" when they agree.
std::string check_lines(const fs::path& p, const ExportFile& f) {
  Gz in(gzopen(p.c_str(), "rb"));
  if (!in) return f.name + ": cannot be opened";
  std::string pending;
  std::int64_t lines = 0;
  std::int64_t last = f.first_position - 1;
  char buf[1 << 16];
  for (;;) {
    const int n = gzread(in.get(), buf, sizeof buf);
    if (n < 0) return f.name + ": not a valid gzip stream";
    if (n == 0) break;
    pending.append(buf, static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      auto j =
          nlohmann::json::parse(pending.begin() + static_cast<std::ptrdiff_t>(start),
                                pending.begin() + static_cast<std::ptrdiff_t>(nl), nullptr, false);
      if (!j.is_object() || !j.contains("position") || !j["position"].is_number_integer())
        return f.name + ": line " + std::to_string(lines + 1) + " is not an exported event";
      const auto pos = j["position"].get<std::int64_t>();
      if (pos <= last || pos > f.last_position)
        return f.name + ": line " + std::to_string(lines + 1) + " is out of position order";
      last = pos;
      ++lines;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) return f.name + ": ends inside a line";
  if (lines != f.events)
    return f.name + ": " + std::to_string(lines) + " events, the manifest says " +
           std::to_string(f.events);
  return "";
}

}  // namespace

struct ExportWriter::Open {
  Gz gz;
  fs::path tmp;
  ExportFile file;
};

ExportWriter::ExportWriter(fs::path dir, int year, std::int64_t events_per_file)
    : dir_(std::move(dir)), per_file_(events_per_file) {
  manifest_.year = year;
  fs::create_directories(dir_);
}

ExportWriter::~ExportWriter() = default;

void ExportWriter::add(const ExportLine& line) {
  if (!open_) {
    char name[64];
    std::snprintf(name, sizeof name, "events-%d-%04zu.ndjson.gz", manifest_.year,
                  manifest_.files.size() + 1);
    open_ = std::make_unique<Open>();
    open_->file.name = name;
    open_->file.first_position = line.position;
    open_->tmp = dir_ / (std::string(name) + ".tmp");
    open_->gz.reset(gzopen(open_->tmp.c_str(), "wb6"));
    if (!open_->gz) throw std::runtime_error("cannot create " + open_->tmp.string());
  }
  const std::string text = line.json + "\n";
  if (gzwrite(open_->gz.get(), text.data(), static_cast<unsigned>(text.size())) !=
      static_cast<int>(text.size()))
    throw std::runtime_error("cannot write " + open_->tmp.string());
  open_->file.last_position = line.position;
  ++open_->file.events;
  ++manifest_.events;
  if (open_->file.events >= per_file_) close_file();
}

void ExportWriter::close_file() {
  if (!open_) return;
  if (gzclose(open_->gz.release()) != Z_OK)
    throw std::runtime_error("cannot finish " + open_->tmp.string());
  const auto bytes = read_all(open_->tmp);
  open_->file.bytes = static_cast<std::int64_t>(bytes.size());
  open_->file.sha256 = sha256_hex(bytes);
  publish(open_->tmp, dir_ / open_->file.name);
  manifest_.files.push_back(std::move(open_->file));
  open_.reset();
}

ExportManifest ExportWriter::finish() {
  close_file();
  const auto tmp = dir_ / (std::string(kManifestName) + ".tmp");
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << manifest_json(manifest_).dump(2) << "\n";
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp.string());
  }
  publish(tmp, dir_ / kManifestName);
  return manifest_;
}

std::string verify_export(const fs::path& dir, ExportManifest& manifest) {
  const auto path = dir / kManifestName;
  if (!fs::exists(path)) return "no " + std::string(kManifestName) + " in " + dir.string();
  auto j = nlohmann::json::parse(read_all(path), nullptr, false);
  if (!j.is_object() || !j.contains("files") || !j["files"].is_array() || !j.contains("year"))
    return path.string() + " is not an export manifest";
  try {
    manifest.year = j.at("year").get<int>();
    manifest.events = j.at("events").get<std::int64_t>();
    manifest.files.clear();
    for (const auto& f : j.at("files")) {
      manifest.files.push_back(
          {f.at("name").get<std::string>(), f.at("events").get<std::int64_t>(),
           f.at("first_position").get<std::int64_t>(), f.at("last_position").get<std::int64_t>(),
           f.at("bytes").get<std::int64_t>(), f.at("sha256").get<std::string>()});
    }
  } catch (const nlohmann::json::exception&) {
    return path.string() + " is not an export manifest";
  }
  std::int64_t events = 0;
  for (const auto& f : manifest.files) {
    const auto p = dir / f.name;
    if (f.name.find('/') != std::string::npos || !fs::exists(p)) return f.name + ": missing";
    const auto bytes = read_all(p);
    if (static_cast<std::int64_t>(bytes.size()) != f.bytes || sha256_hex(bytes) != f.sha256)
      return f.name + ": its size or SHA-256 differs from the manifest";
    if (auto problem = check_lines(p, f); !problem.empty()) return problem;
    events += f.events;
  }
  if (events != manifest.events) return "the files hold fewer events than the manifest says";
  return "";
}

}  // namespace orders::write_side::cli
