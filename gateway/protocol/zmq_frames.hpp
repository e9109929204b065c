#pragma once

#include <string>
#include <vector>
#include <zmq_addon.hpp>

namespace cellbox::gateway
{

// One multipart ZeroMQ message as the byte strings the wire codec works on.
inline std::vector<std::string> receive_frames(zmq::socket_t& socket)
{
    zmq::multipart_t parts(socket);
    std::vector<std::string> frames;
    frames.reserve(parts.size());
    for (auto& part : parts)
    {
        frames.push_back(part.to_string());
    }
    return frames;
}

// Sends without blocking; returns false when the socket cannot take the message now.
inline bool send_frames(zmq::socket_t& socket, const std::vector<std::string>& frames)
{
    zmq::multipart_t parts;
    for (const auto& frame : frames)
    {
        parts.addstr(frame);
    }
    return parts.send(socket, ZMQ_DONTWAIT);
}

} // namespace cellbox::gateway
