#include "hsmca/signer/signed_object.hpp"

#include "der.hpp"
#include "hsmca/signer/algorithm.hpp"
#include "scheme.hpp"

namespace hsmca::signer {

bool verify_signature(const Bytes& spki_der, token::SignatureScheme scheme,
                      std::span<const unsigned char> message, std::span<const unsigned char> signature) {
  EvpPkeyPtr key = public_key_from_spki(spki_der);
  EvpMdCtxPtr ctx = detail::digest_context(key.get(), scheme, detail::Direction::verify);
  const bool ok = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(),
                                   message.size()) == 1;
  // A malformed signature leaves decoding errors behind; they are the answer
  // "no", not something to report later under an unrelated call.
  drain_openssl_errors();
  return ok;
}

Bytes sign_tbs(const SigningKey& key, std::span<const unsigned char> tbs_der) {
  const Bytes signature = key.sign(tbs_der);
  if (!verify_signature(key.spki_der(), key.scheme(), tbs_der, signature)) {
    throw VerificationError("the " + std::string(token::scheme_name(key.scheme())) +
                              " signature does not verify under the signing key's public key");
  }
  return der::sequence({tbs_der, signature_algorithm_der(key.scheme()), der::bit_string(signature)});
}

}  // namespace hsmca::signer
