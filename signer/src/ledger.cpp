// What every Ledger implementation shares; the SQLite one is sqlite_ledger.cpp.
#include "hsmca/signer/ledger.hpp"

namespace hsmca::signer {

LedgerError::LedgerError(const std::string& what) : std::runtime_error(what) {}

std::string_view status_name(CertificateStatus status) {
  switch (status) {
    case CertificateStatus::pending:
      return "pending";
    case CertificateStatus::issued:
      return "issued";
    case CertificateStatus::failed:
      return "failed";
    case CertificateStatus::revoked:
      return "revoked";
  }
  return "unknown";
}

}  // namespace hsmca::signer
