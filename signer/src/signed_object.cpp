#include "hsmca/signer/signed_object.hpp"

#include "hsmca/signer/der.hpp"
#include "hsmca/signer/algorithm.hpp"
#include "scheme.hpp"

namespace hsmca::signer {

namespace {

bool verify_with(EVP_PKEY* key, token::SignatureScheme scheme, std::span<const unsigned char> message,
                 std::span<const unsigned char> signature) {
  EvpMdCtxPtr ctx = detail::digest_context(key, scheme, detail::Direction::verify);
  const bool ok = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                   message.size()) == 1;
  // A malformed signature leaves decoding errors behind; they are the answer
  // "no", not something to report later under an unrelated call.
  drain_openssl_errors();
  return ok;
}

}  // namespace

bool verify_signature(const Bytes& spki_der, token::SignatureScheme scheme,
                      std::span<const unsigned char> message, std::span<const unsigned char> signature) {
  return verify_with(public_key_from_spki(spki_der).get(), scheme, message, signature);
}

Bytes sign_tbs(const SigningKey& key, std::span<const unsigned char> tbs_der) {
  const Bytes signature = key.sign(tbs_der);
  const bool valid = key.verification_key() != nullptr
                         ? verify_with(key.verification_key(), key.scheme(), tbs_der, signature)
                         : verify_signature(key.spki_der(), key.scheme(), tbs_der, signature);
  if (!valid) {
    throw VerificationError("the " + std::string(token::scheme_name(key.scheme())) +
                              " signature does not verify under the signing key's public key");
  }
  return der::sequence({tbs_der, signature_algorithm_der(key.scheme()), der::bit_string(signature)});
}

}  // namespace hsmca::signer
