// The files of `write-side archive-export`: gzip-compressed NDJSON (one event per line, as stored)
// of at most N events each, and manifest.json naming each file with its event count, position
// range, size and SHA-256. Each file and the manifest are written under a temporary name, synced
// and renamed, the manifest last: a directory with a manifest holds a complete export.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "write-side/store/archive_export_store.hpp"

namespace orders::write_side::cli {

struct ExportFile {
  std::string name;  // relative to the export directory
  std::int64_t events = 0;
  std::int64_t first_position = 0;
  std::int64_t last_position = 0;
  std::int64_t bytes = 0;
  std::string sha256;  // of the compressed file
};

struct ExportManifest {
  int year = 0;
  std::int64_t events = 0;
  std::vector<ExportFile> files;
};

inline constexpr const char* kManifestName = "manifest.json";

class ExportWriter {
 public:
  ExportWriter(std::filesystem::path dir, int year, std::int64_t events_per_file);
  ~ExportWriter();
  ExportWriter(const ExportWriter&) = delete;
  ExportWriter& operator=(const ExportWriter&) = delete;

  void add(const ExportLine& line);  // throws std::runtime_error on an I/O error
  ExportManifest finish();           // the last file, then the manifest

 private:
  struct Open;
  void close_file();

  std::filesystem::path dir_;
  ExportManifest manifest_;
  std::int64_t per_file_;
  std::unique_ptr<Open> open_;
};

// Checks an export directory against its manifest: every file present, its SHA-256 and size as
// listed, as many JSON lines as listed, positions ascending within the listed range. Returns
// the first problem found, or "" when the export is intact; fills `manifest` when it was read.
std::string verify_export(const std::filesystem::path& dir, ExportManifest& manifest);

}  // namespace orders::write_side::cli
