#pragma once

#include "cellbox/kernel/kernel_options.hpp"

namespace cellbox::kernel
{

// cellbox-kernel --zygote SOCKET: initialises Python, IPython and the warm modules once,
// connects to SOCKET (a Unix stream socket its owner listens on) and forks one sandboxed
// session per request; see README.md "Instant sessions" for the protocol. Returns when the
// owner closes the connection; every session dies with it.
int run_zygote(const kernel_options& options);

} // namespace cellbox::kernel
