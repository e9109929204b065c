#pragma once
// `cellbox run --files`: local files put into the user's /work through the gateway's contents
// API before the notebooks run, so that their cells open them by name (kernels start in /work).
#include "client/http_client.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace cellbox::gateway::runner
{

// A local file that cannot be read.
class upload_error : public std::runtime_error
{
public:
    using std::runtime_error::runtime_error;
};

// Each file goes to /work/<its name> (base64, so any bytes). Throws upload_error for a local
// file that cannot be read, client::gateway_error when the gateway refuses one (the reason named).
void upload_files(const client::http_client& client, const std::vector<std::string>& paths);

// `name` percent-encoded as one path segment (everything but RFC 3986's unreserved bytes).
std::string path_segment(const std::string& name);

} // namespace cellbox::gateway::runner
