#pragma once
// The one deleter for C objects with a free function, used by token/ for its
// OpenSSL objects and by signer/ (hsmca/signer/openssl.hpp) for the rest:
//   using X509Ptr = std::unique_ptr<X509, Free<X509_free>>;
// It names no C library, so token/ can hold it without signer/'s X.509 types.

namespace hsmca::token {

// One owner per C object, as Tink's SslUniquePtr: the deleter is the type's
// own free function.
template <auto F>
struct Free {
  void operator()(auto* p) const noexcept { F(p); }
};

}  // namespace hsmca::token
