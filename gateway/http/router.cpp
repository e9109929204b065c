#include "http/router.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace cellbox::gateway
{

namespace http = boost::beast::http;

namespace
{

bool name_start(char c)
{
    return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_';
}

bool name_char(char c)
{
    return name_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

} // namespace

const std::string& route_captures::operator[](std::string_view name) const
{
    for (std::size_t i = 0; i < m_names.size() && i < m_values.size(); ++i)
    {
        if (m_names[i] == name)
        {
            return m_values[i];
        }
    }
    throw std::out_of_range("no capture named " + std::string(name));
}

// One pass over the pattern: {name} and {name:regex} become groups, and every group, named or
// not, gets its number in the order its "(" appears, as regular expressions number them. Escapes
// and bracket expressions are copied as they are (a "(" in them is no group).
std::pair<std::string, std::vector<std::string>> compile_route_pattern(std::string_view pattern)
{
    std::string out;
    std::vector<std::string> names;
    int named_depth = 0; // inside {name:regex}: braces of quantifiers, {2,3}, nest in it
    std::vector<bool> brace_is_named;
    for (std::size_t i = 0; i < pattern.size(); ++i)
    {
        const char c = pattern[i];
        if (c == '\\')
        {
            if (i + 1 == pattern.size())
            {
                throw std::invalid_argument("route pattern ends with a backslash");
            }
            out += pattern.substr(i, 2);
            ++i;
        }
        else if (c == '[')
        {
            // A bracket expression runs to the first "]" that is not its first character.
            std::size_t end = i + 1;
            if (end < pattern.size() && pattern[end] == '^')
            {
                ++end;
            }
            if (end < pattern.size() && pattern[end] == ']')
            {
                ++end;
            }
            while (end < pattern.size() && pattern[end] != ']')
            {
                end += pattern[end] == '\\' ? 2 : 1;
            }
            if (end >= pattern.size())
            {
                throw std::invalid_argument("route pattern has an unclosed [");
            }
            out += pattern.substr(i, end - i + 1);
            i = end;
        }
        else if (c == '(')
        {
            if (i + 1 >= pattern.size() || pattern[i + 1] != '?')
            {
                names.emplace_back(); // positional
            }
            out += c;
        }
        else if (c == '{' && i + 1 < pattern.size() && name_start(pattern[i + 1]))
        {
            std::size_t end = i + 1;
            while (end < pattern.size() && name_char(pattern[end]))
            {
                ++end;
            }
            if (end == pattern.size() || (pattern[end] != '}' && pattern[end] != ':'))
            {
                throw std::invalid_argument("route pattern has a bad {name}");
            }
            const std::string name(pattern.substr(i + 1, end - i - 1));
            if (std::find(names.begin(), names.end(), name) != names.end())
            {
                throw std::invalid_argument("route pattern names " + name + " twice");
            }
            names.push_back(name);
            if (pattern[end] == '}')
            {
                out += "([^/]+)";
            }
            else
            {
                out += '(';
                brace_is_named.push_back(true);
                ++named_depth;
            }
            i = end;
        }
        else if (c == '{')
        {
            brace_is_named.push_back(false); // a quantifier
            out += c;
        }
        else if (c == '}')
        {
            if (brace_is_named.empty())
            {
                throw std::invalid_argument("route pattern has an unmatched }");
            }
            const bool named = brace_is_named.back();
            brace_is_named.pop_back();
            out += named ? ')' : '}';
            named_depth -= named ? 1 : 0;
        }
        else
        {
            out += c;
        }
    }
    if (named_depth != 0 || !brace_is_named.empty())
    {
        throw std::invalid_argument("route pattern has an unclosed {");
    }
    try
    {
        (void)boost::regex(out);
    }
    catch (const boost::regex_error& e)
    {
        throw std::invalid_argument("route pattern " + std::string(pattern) + ": " + e.what());
    }
    return {out, names};
}

router::route& router::compile(std::string_view pattern)
{
    auto [regex, names] = compile_route_pattern(pattern);
    route r;
    r.pattern = std::string(pattern);
    r.compiled = boost::regex(regex, boost::regex::ECMAScript);
    r.names = std::move(names);
    if (r.compiled.mark_count() != r.names.size())
    {
        throw std::invalid_argument("route pattern " + r.pattern + ": groups miscounted");
    }
    return m_routes.emplace_back(std::move(r));
}

void router::add(std::vector<verb> methods, std::string_view pattern, http_handler handler)
{
    route& r = compile(pattern);
    r.methods = std::move(methods);
    r.handler = std::move(handler);
}

void router::add_public(std::vector<verb> methods, std::string_view pattern, http_handler handler)
{
    route& r = compile(pattern);
    r.methods = std::move(methods);
    r.handler = std::move(handler);
    r.open = true;
}

bool router::is_public(const std::string& path) const
{
    return std::any_of(m_routes.begin(), m_routes.end(),
                       [&](const route& r)
                       { return r.open && boost::regex_match(path, r.compiled); });
}

void router::add_upgrade(std::string_view pattern, upgrade_handler handler)
{
    route& r = compile(pattern);
    r.methods = {verb::get};
    r.upgrade = std::move(handler);
}

router::match_result router::match(verb method, const std::string& path, bool upgrade) const
{
    match_result result;
    std::vector<verb> allowed;
    for (const auto& r : m_routes)
    {
        if (static_cast<bool>(r.upgrade) != upgrade)
        {
            continue;
        }
        boost::smatch groups;
        if (!boost::regex_match(path, groups, r.compiled))
        {
            continue;
        }
        const bool any = r.methods.empty();
        if (!any && std::find(r.methods.begin(), r.methods.end(), method) == r.methods.end())
        {
            for (const auto m : r.methods)
            {
                if (std::find(allowed.begin(), allowed.end(), m) == allowed.end())
                {
                    allowed.push_back(m);
                }
            }
            continue;
        }
        std::vector<std::string> values;
        for (std::size_t i = 1; i < groups.size(); ++i)
        {
            values.push_back(groups[i].str());
        }
        result.result = outcome::found;
        result.handler = r.handler ? &r.handler : nullptr;
        result.upgrade = r.upgrade ? &r.upgrade : nullptr;
        result.captures = route_captures(std::move(values), r.names);
        return result;
    }
    if (!allowed.empty())
    {
        result.result = outcome::method_not_allowed;
        for (const auto m : allowed)
        {
            result.allow += (result.allow.empty() ? "" : ", ") + std::string(http::to_string(m));
        }
    }
    return result;
}

void router::dispatch(const std::string& path, http_request req, identity who,
                      std::shared_ptr<responder> respond) const
{
    match_result found = match(req.method(), path);
    switch (found.result)
    {
    case outcome::found:
        (*found.handler)(http_call{std::move(req), std::move(who), std::move(found.captures),
                                   std::move(respond)});
        return;
    case outcome::method_not_allowed:
    {
        http_response res =
            error_response(req, http::status::method_not_allowed, "Method Not Allowed");
        res.set(http::field::allow, found.allow);
        respond->send(std::move(res));
        return;
    }
    case outcome::not_found:
        break;
    }
    respond->send(error_response(req, http::status::not_found, "Not Found"));
}

} // namespace cellbox::gateway
