#pragma once
// What every decoder of the contracts between cellbox's processes returns: the value, or why
// the input was refused, as a sentence for the log and for the peer that sent it. Decoders
// never throw: their input comes from another process (a client's request forwarded by the
// gateway, a sandbox's verdict, a zygote's answer) and a malformed message is an answer, not
// a crash.
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace cellbox::contract
{

struct decode_error
{
    std::string message;
};

template <typename T> class decoded
{
public:
    decoded(T value) : m_value(std::move(value)) {}
    decoded(decode_error error) : m_error(std::move(error.message)) {}

    bool ok() const noexcept { return m_value.has_value(); }
    explicit operator bool() const noexcept { return ok(); }

    // The value; std::invalid_argument with error() when there is none, for callers whose
    // errors travel as exceptions (the zygote answers them to its owner).
    const T& value() const&
    {
        require();
        return *m_value;
    }
    T& value() &
    {
        require();
        return *m_value;
    }
    T&& value() &&
    {
        require();
        return std::move(*m_value);
    }
    const T& operator*() const& { return value(); }
    const T* operator->() const { return &value(); }

    // Why the input was refused ("" when ok()).
    const std::string& error() const noexcept { return m_error; }

private:
    void require() const
    {
        if (!m_value)
        {
            throw std::invalid_argument(m_error);
        }
    }

    std::optional<T> m_value;
    std::string m_error;
};

} // namespace cellbox::contract
