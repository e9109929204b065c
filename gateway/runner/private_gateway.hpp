#pragma once
// The private session of `cellbox run` without --url: `cellbox serve` started as a child on a
// free 127.0.0.1 port with a random token (given through the environment, never on a command
// line that `ps` shows), with serve's own sandbox defaults, a runtime and work directory of
// its own, and stopped (SIGTERM, then SIGKILL) when the runner is done, or SIGTERM when the
// runner dies. The child has its own process group: a terminal's Ctrl-C reaches the runner,
// which deletes its kernels first.
#include <string>
#include <sys/types.h>

namespace cellbox::gateway::runner
{

class private_gateway
{
public:
    // `program`: the cellbox binary. `work_dir`: the users' /work directories ("": a temporary
    // one, removed at the end). Throws client::gateway_error when serve does not come up.
    private_gateway(const std::string& program, const std::string& work_dir);
    ~private_gateway();
    private_gateway(const private_gateway&) = delete;
    private_gateway& operator=(const private_gateway&) = delete;

    const std::string& url() const { return m_url; }
    const std::string& token() const { return m_token; }
    // serve's log, kept until the end (for error messages).
    std::string log_path() const { return m_dir + "/serve.log"; }

private:
    void stop();

    std::string m_dir; // runtime, log and (by default) work directories
    std::string m_token;
    std::string m_url;
    pid_t m_pid = -1;
    int m_stdout = -1;
};

} // namespace cellbox::gateway::runner
