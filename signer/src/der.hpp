#pragma once
// The DER writer is public now (hsmca/signer/der.hpp: the appliance's EST
// encoding uses it too); this name stays for revocation.cpp, which is being
// reworked on another branch, and goes with that change.
#include "hsmca/signer/der.hpp"
