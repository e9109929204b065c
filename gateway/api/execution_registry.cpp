#include "api/execution_registry.hpp"

#include "api/execution_runner.hpp"

namespace cellbox::gateway
{

bool execution_registry::add(const std::shared_ptr<execution_runner>& run)
{
    auto& runs = m_kernels[run->kernel_id()];
    while (m_max > 0 && runs.size() >= m_max)
    {
        auto oldest = runs.end();
        for (auto it = runs.begin(); it != runs.end(); ++it)
        {
            if (it->second.run->model().done() &&
                (oldest == runs.end() || it->second.order < oldest->second.order))
            {
                oldest = it;
            }
        }
        if (oldest == runs.end())
        {
            return false;
        }
        runs.erase(oldest);
    }
    runs[run->id()] = {m_next_order++, run};
    return true;
}

std::shared_ptr<execution_runner> execution_registry::find(const std::string& kernel_id,
                                                           const std::string& execution_id) const
{
    const auto kernel = m_kernels.find(kernel_id);
    if (kernel == m_kernels.end())
    {
        return nullptr;
    }
    const auto it = kernel->second.find(execution_id);
    return it == kernel->second.end() ? nullptr : it->second.run;
}

void execution_registry::forget(const std::string& kernel_id, const std::string& execution_id)
{
    const auto kernel = m_kernels.find(kernel_id);
    if (kernel == m_kernels.end())
    {
        return;
    }
    kernel->second.erase(execution_id);
    if (kernel->second.empty())
    {
        m_kernels.erase(kernel);
    }
}

void execution_registry::remove_all()
{
    std::vector<std::string> kernels;
    for (const auto& entry : m_kernels)
    {
        kernels.push_back(entry.first);
    }
    for (const auto& kernel_id : kernels)
    {
        remove_kernel(kernel_id);
    }
}

void execution_registry::remove_kernel(const std::string& kernel_id)
{
    const auto kernel = m_kernels.find(kernel_id);
    if (kernel == m_kernels.end())
    {
        return;
    }
    auto runs = std::move(kernel->second);
    m_kernels.erase(kernel);
    for (auto& [id, entry] : runs)
    {
        entry.run->kernel_removed();
    }
}

std::size_t execution_registry::count(const std::string& kernel_id) const
{
    const auto kernel = m_kernels.find(kernel_id);
    return kernel == m_kernels.end() ? 0 : kernel->second.size();
}

} // namespace cellbox::gateway
