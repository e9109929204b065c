#pragma once
// Sending a descriptor over a Unix socket (SCM_RIGHTS) with the bytes that carry it: the
// sandbox's owner link (records, a mount tree) and the gateway's image handover (a
// hibernated session's image) both do.
#include <cerrno>
#include <cstring>
#include <string_view>
#include <sys/socket.h>

namespace cellbox
{

// Sends `data` (at least one byte: a stream socket needs one to carry the descriptor) and, if
// `fd` >= 0, the descriptor with it; retried on EINTR, never SIGPIPE. True if all was sent.
inline bool send_with_descriptor(int socket, std::string_view data, int fd = -1)
{
    iovec payload{const_cast<char*>(data.data()), data.size()};
    msghdr message{};
    message.msg_iov = &payload;
    message.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0)
    {
        message.msg_control = control;
        message.msg_controllen = sizeof control;
        cmsghdr* header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
    }
    ssize_t sent = -1;
    do
    {
        sent = sendmsg(socket, &message, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    return sent == static_cast<ssize_t>(data.size());
}

} // namespace cellbox
