#pragma once

#include <stdexcept>
#include <string>
#include <xeus/xkernel_configuration.hpp>

namespace cellbox::kernel
{

class invalid_connection_file : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// Reads a Jupyter connection file (tcp or ipc transport), checking every field the kernel
// relies on so that a bad file gives one clear message instead of an abort inside xeus.
xeus::xconfiguration load_connection_file(const std::string& path);

} // namespace cellbox::kernel
