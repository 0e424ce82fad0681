#pragma once
// The SQLite ledger's file: what makes a file an hsmca ledger, its schema and
// the migrations that bring an older file up to date.
#include <filesystem>
#include <string>

#include "sqlite.hpp"

namespace hsmca::signer::ledger_schema {

// The newest schema this code knows; PRAGMA user_version of a migrated file.
inline constexpr int kSchemaVersion = 4;

// The connection the writer uses: the file at `path` created (0600, not its
// directory) when absent, checked to be an hsmca ledger no newer than
// kSchemaVersion, in WAL mode with synchronous = FULL, and migrated to
// kSchemaVersion. LedgerError naming `where` otherwise; a file given by
// mistake is left as it was.
sqlite::DatabasePtr open_writer_connection(const std::filesystem::path& path, const std::string& where);

}  // namespace hsmca::signer::ledger_schema
