#include "protocol/spliced_frame.hpp"
#include "protocol/websocket_framing.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

using namespace cellbox::gateway;

namespace
{
std::uint64_t u64le(const std::string& frame, std::size_t pos)
{
    std::uint64_t value = 0;
    for (int i = 7; i >= 0; --i)
    {
        value = (value << 8) | static_cast<unsigned char>(frame[pos + i]);
    }
    return value;
}

std::uint32_t u32be(const std::string& frame, std::size_t pos)
{
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i)
    {
        value = (value << 8) | static_cast<unsigned char>(frame[pos + i]);
    }
    return value;
}

kernel_message sample(std::size_t header_size, std::size_t content_size)
{
    const std::string header = "{\"h\":\"" + std::string(header_size - 8, 'x') + "\"}";
    const std::string content = "{\"c\":\"" + std::string(content_size - 8, 'y') + "\"}";
    return {"shell", header, "{}", "{}", content, {}};
}
} // namespace

TEST_CASE("v1 frames follow the reference's worked example")
{
    const kernel_message message = sample(120, 40);
    REQUIRE(message.header.size() == 120);
    const std::string frame = encode_v1(message);
    CHECK(frame.size() == 225);
    CHECK(u64le(frame, 0) == 6);
    const std::uint64_t expected[] = {56, 61, 181, 183, 185, 225};
    for (int i = 0; i < 6; ++i)
    {
        CHECK(u64le(frame, 8 + 8 * i) == expected[i]);
    }
    const kernel_message back = decode_v1(frame);
    CHECK(back.channel == "shell");
    CHECK(back.header == message.header);
    CHECK(back.content == message.content);
    CHECK(back.buffers.empty());
}

TEST_CASE("v1 frames carry buffers, empty ones included")
{
    kernel_message message = sample(20, 20);
    message.channel = "iopub";
    message.buffers = {std::string("\x00\x01\x02", 3), "", "tail"};
    const kernel_message back = decode_v1(encode_v1(message));
    REQUIRE(back.buffers.size() == 3);
    CHECK(back.buffers[0] == std::string("\x00\x01\x02", 3));
    CHECK(back.buffers[1].empty());
    CHECK(back.buffers[2] == "tail");
}

TEST_CASE("malformed v1 frames are rejected")
{
    const std::string good = encode_v1(sample(20, 20));
    CHECK_THROWS_AS(decode_v1(""), protocol_error);
    CHECK_THROWS_AS(decode_v1(good.substr(0, 30)), protocol_error);
    CHECK_THROWS_AS(decode_v1(good.substr(0, good.size() - 1)), protocol_error);

    std::string huge_count = good;
    huge_count[7] = '\x7f'; // 2^62-ish offsets announced
    CHECK_THROWS_AS(decode_v1(huge_count), protocol_error);

    std::string backwards = good;
    backwards[8 * 3] = 0; // offset 2 lower than offset 1
    CHECK_THROWS_AS(decode_v1(backwards), protocol_error);

    std::string outside = good;
    outside[8 * 4 + 1] = '\x10'; // offset 3 beyond the frame
    CHECK_THROWS_AS(decode_v1(outside), protocol_error);

    std::string too_few = good;
    too_few[0] = 3;
    CHECK_THROWS_AS(decode_v1(too_few), protocol_error);
}

TEST_CASE("legacy frames are JSON text, or binary with buffers")
{
    kernel_message message{"iopub", R"({"msg_id":"m1","msg_type":"stream"})", "{}",
                           "{}",    R"({"name":"stdout","text":"hi"})",       {}};
    const legacy_frame text = encode_legacy(message);
    CHECK_FALSE(text.binary);
    const auto doc = nlohmann::json::parse(text.data);
    CHECK(doc["channel"] == "iopub");
    CHECK(doc["msg_type"] == "stream");
    CHECK(doc["msg_id"] == "m1");
    CHECK(doc["buffers"].empty());
    CHECK(doc["content"]["text"] == "hi");
    const kernel_message back = decode_legacy(text.data, false);
    CHECK(nlohmann::json::parse(back.content) == nlohmann::json::parse(message.content));

    message.buffers = {std::string(10, 'b')};
    const legacy_frame binary = encode_legacy(message);
    REQUIRE(binary.binary);
    CHECK(u32be(binary.data, 0) == 2);
    CHECK(u32be(binary.data, 4) == 12);
    const std::uint32_t buffer_start = u32be(binary.data, 8);
    CHECK(binary.data.size() == buffer_start + 10);
    const kernel_message with_buffers = decode_legacy(binary.data, true);
    REQUIRE(with_buffers.buffers.size() == 1);
    CHECK(with_buffers.buffers[0] == std::string(10, 'b'));
    CHECK(with_buffers.channel == "iopub");
}

TEST_CASE("legacy decoding defaults and rejects")
{
    const kernel_message shell =
        decode_legacy(R"({"header": {"msg_type": "kernel_info_request"}})", false);
    CHECK(shell.channel == "shell");
    CHECK(shell.parent_header == "{}");
    CHECK(shell.content == "{}");
    CHECK_THROWS_AS(decode_legacy("not json", false), protocol_error);
    CHECK_THROWS_AS(decode_legacy("[1, 2]", false), protocol_error);
    CHECK_THROWS_AS(decode_legacy(R"({"content": {}})", false), protocol_error);
    CHECK_THROWS_AS(decode_legacy(R"({"header": {}, "content": 5})", false), protocol_error);
    CHECK_THROWS_AS(decode_legacy(std::string("\0\0\0\x09", 4), true), protocol_error);
}

TEST_CASE("spliced frames point into the message and equal the encoded frames")
{
    kernel_message message{"iopub", R"({"msg_id":"m1","msg_type":"stream"})", "{}",
                           "{}",    R"({"name":"stdout","text":"hi"})",       {}};
    for (int with_buffers = 0; with_buffers < 2; ++with_buffers)
    {
        if (with_buffers == 1)
        {
            message.buffers = {std::string("\x00\x01", 2), "", std::string(300, 'b')};
        }
        const spliced_frame v1 = spliced_frame::v1(message);
        const spliced_frame legacy = spliced_frame::legacy(message);
        CHECK(v1.flatten() == encode_v1(message));
        CHECK(legacy.flatten() == encode_legacy(message).data);
        CHECK(legacy.binary() == (with_buffers == 1));
        CHECK(decode_v1(v1.flatten()).content == message.content);
        // The content is not copied: a piece of the frame is the message's own bytes.
        bool points_in = false;
        for (const std::string_view piece : legacy.pieces())
        {
            points_in = points_in || piece.data() == message.content.data();
        }
        CHECK(points_in);
        std::size_t size = 0;
        for (const std::string_view piece : v1.pieces())
        {
            size += piece.size();
        }
        CHECK(size == v1.size());
    }
    // Moving a frame (into an outbox) keeps its pieces right.
    spliced_frame moved = spliced_frame::legacy(message);
    const std::string before = moved.flatten();
    std::vector<spliced_frame> outbox;
    outbox.push_back(std::move(moved));
    outbox.reserve(16);
    CHECK(outbox.front().flatten() == before);

    message.content = "[1]";
    CHECK_THROWS_AS(spliced_frame::legacy(message), protocol_error);
}
