#pragma once
// What happened to a sandboxed program, as the gateway and users act on it: the verdict
// contract's type (contract/verdict.hpp), which the launcher fills.
#include "cellbox/contract/verdict.hpp"

namespace cellbox::sandbox
{

using verdict = contract::verdict;

} // namespace cellbox::sandbox
