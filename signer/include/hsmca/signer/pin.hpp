#pragma once
#include <string>

#include "hsmca/token/secret.hpp"

namespace hsmca::signer {

enum class PinRole { user, security_officer };

// Where a PIN comes from, never the command line: `source` is "env:NAME" or
// "file:PATH" (from a pkcs11 URI's pin-source or a config's pin_source); empty
// means HSMCA_PIN (HSMCA_SO_PIN for the SO), else a no-echo prompt when stdin
// is a terminal. `token_label` only words the prompt and errors.
// - The process is made undumpable first (make_process_undumpable).
// - A PIN file others may read, or group or others may write, is refused
//   (check_secret_file).
// - A variable's PIN is taken out of the environment: unset, and its bytes in
//   the environment block wiped; later reads of the same variable get the
//   copy kept in locked memory.
// - An unknown `source` is refused without repeating it: it may be the PIN.
token::Secret read_pin(PinRole role, const std::string& source, const std::string& token_label);

// prctl(PR_SET_DUMPABLE, 0): no core dump of this process, and no ptrace,
// /proc/PID/mem or /proc/PID/environ for other unprivileged processes, even
// of the same user. The programs call it first thing, since a PIN may be in
// their environment from the start; read_pin calls it again in any case.
void make_process_undumpable();
// Takes NAME out of the environment and wipes its value where the process's
// initial environment held it (what /proc/PID/environ shows); for a variable
// the process will never read.
void forget_environment_secret(const std::string& name);

}  // namespace hsmca::signer
