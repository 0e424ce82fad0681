#pragma once
// The one place the PKCS#11 C header comes in: p11-kit ships the OASIS
// definitions under <p11-kit/pkcs11.h> with every platform macro already set.
#include <p11-kit/pkcs11.h>
