#pragma once
// Where `cellbox serve` gets its admin token and how it tells where it is, without putting the
// token where others read it: a log file (the URL line carries ?token= only on a terminal),
// the command line (--token-file instead of --token), the environment of the processes it
// starts (child_process.hpp).
#include <string>

namespace cellbox::gateway
{

// Where the admin token came from.
enum class token_origin
{
    none,      // --no-token
    given,     // --token, CELLBOX_TOKEN or the config file's token
    file,      // --token-file, CELLBOX_TOKEN_FILE or token_file
    generated, // random, made at start
};

// The admin token in `path`: its first line without surrounding blanks. Throws config_error
// when the file cannot be read or holds no token; logs a warning when others may read it.
std::string read_token_file(const std::string& path);

// Writes a generated token to `path`, readable by the gateway's user only.
void write_token_file(const std::string& path, const std::string& token);

// The line printed on stdout once the gateway listens: its URL first (scripts and tests read
// it), with ?token= only when stdout is a terminal; elsewhere (a log file, a journal) it says
// where the token is instead. `token_file`: the file holding it (origin file or generated).
std::string startup_line(const std::string& url, const std::string& token, token_origin origin,
                         const std::string& token_file, bool terminal);

} // namespace cellbox::gateway
