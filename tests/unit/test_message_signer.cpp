#include "protocol/message_signer.hpp"

#include <catch2/catch.hpp>

using namespace cellbox::gateway;

TEST_CASE("HMAC-SHA256 matches RFC 4231 test case 2")
{
    CHECK(message_signer::hmac_sha256_hex("Jefe", "what do ya want for nothing?") ==
          "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("a signature covers the four dict parts in order")
{
    const message_signer signer("secret");
    kernel_message message{"shell", R"({"msg_id":"1"})", "{}", "{}", R"({"code":"1"})", {}};
    const std::string signature = signer.sign(message);
    CHECK(signature ==
          message_signer::hmac_sha256_hex("secret", R"({"msg_id":"1"}{}{}{"code":"1"})"));
    CHECK(signer.verify(message, signature));

    message.content = R"({"code":"2"})";
    CHECK_FALSE(signer.verify(message, signature));
    CHECK_FALSE(signer.verify(message, ""));
    CHECK_FALSE(message_signer("other").verify(message, signer.sign(message)));
}

TEST_CASE("without a key messages are unsigned")
{
    const message_signer signer("");
    kernel_message message{"shell", "{}", "{}", "{}", "{}", {}};
    CHECK(signer.sign(message).empty());
    CHECK(signer.verify(message, ""));
}
