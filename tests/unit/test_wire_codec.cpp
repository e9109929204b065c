#include "protocol/message_builder.hpp"
#include "protocol/wire_codec.hpp"

#include <catch2/catch.hpp>

using namespace cellbox::gateway;

TEST_CASE("wire frames round-trip with identities, signature and buffers")
{
    const message_signer signer("key");
    kernel_message message = make_request("shell", "execute_request", {{"code", "1+1"}}, "s1");
    message.buffers = {"raw"};
    const auto frames = encode_wire(message, {"client-a"}, signer);
    REQUIRE(frames.size() == 8);
    CHECK(frames[0] == "client-a");
    CHECK(frames[1] == "<IDS|MSG>");
    CHECK(frames[2] == signer.sign(message));

    std::vector<std::string> identities;
    const kernel_message back = decode_wire(frames, "shell", signer, &identities);
    CHECK(identities == std::vector<std::string>{"client-a"});
    CHECK(back.header == message.header);
    CHECK(back.content == message.content);
    CHECK(back.buffers == message.buffers);
}

TEST_CASE("tampered or truncated wire messages are rejected")
{
    const message_signer signer("key");
    const kernel_message message = make_request("shell", "kernel_info_request", {}, "s1");
    auto frames = encode_wire(message, {}, signer);
    auto tampered = frames;
    tampered[5] = R"({"code":"import os"})";
    CHECK_THROWS_WITH(decode_wire(tampered, "shell", signer), Catch::Contains("signature"));
    CHECK_THROWS_WITH(decode_wire({"a", "b"}, "shell", signer), Catch::Contains("delimiter"));
    frames.pop_back();
    CHECK_THROWS_WITH(decode_wire(frames, "shell", signer), Catch::Contains("fewer"));
}

TEST_CASE("generated headers carry a unique id and a six-digit UTC timestamp")
{
    const auto a = nlohmann::json::parse(make_request("shell", "x", {}, "s").header);
    const auto b = nlohmann::json::parse(make_request("shell", "x", {}, "s").header);
    CHECK(a["msg_id"] != b["msg_id"]);
    const std::string date = a["date"];
    REQUIRE(date.size() == 27);
    CHECK(date[10] == 'T');
    CHECK(date[19] == '.');
    CHECK(date.back() == 'Z');
}
