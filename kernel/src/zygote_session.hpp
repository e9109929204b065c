#pragma once

#include "cellbox/kernel/zygote_request.hpp"

#include <pybind11/pybind11.h>

namespace cellbox::kernel
{

// In the freshly forked child of the zygote: becomes the session's supervisor (cellbox-sandbox's
// launcher role: cgroups, timers, signal forwarding, verdict) around a payload that continues
// this warm interpreter as the session. The verdict goes to `link` as {"verdict": {...}}.
[[noreturn]] void become_supervisor(const spawn_request& request, int link,
                                    const pybind11::object& support);

} // namespace cellbox::kernel
