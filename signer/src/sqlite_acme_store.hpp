#pragma once
// The ACME state in the ledger's SQLite file, written through the ledger's
// group-commit writer and read through its reader pool.
#include <memory>
#include <string>

#include "hsmca/signer/acme_store.hpp"
#include "ledger_writer.hpp"
#include "sqlite.hpp"

namespace hsmca::signer {

// The writer and readers belong to the SqliteLedger that makes this store and
// outlives it.
std::unique_ptr<AcmeStore> make_sqlite_acme_store(LedgerWriter& writer, sqlite::ReaderPool& readers,
                                                  std::string where);

}  // namespace hsmca::signer
