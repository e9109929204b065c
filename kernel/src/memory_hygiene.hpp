#pragma once
// Every zygote session starts as a copy of the zygote's whole memory. The zygote handles other
// users' requests (their /work paths name them, their uids), so what it frees must not keep
// them for the sessions it forks later to find. glibc keeps freed bytes until they are reused;
// these functions make the zygote's freed memory and unused stack hold zeros instead.
#include <string>

namespace cellbox::kernel::hygiene
{

// From now on, glibc overwrites every chunk it frees (M_PERTURB), except the small ones its
// per-thread cache (tcache) keeps: scrub_cached_chunks() zeroes those.
void scrub_on_free();
// Back to glibc's normal behaviour (a session does not pay for the zygote's hygiene).
void stop_scrubbing();
// Zeroes the chunks glibc's per-thread cache holds: freed since scrub_on_free() without being
// overwritten.
void scrub_cached_chunks();
// Zeroes the stack below the caller's frame: what returned functions left there.
void scrub_stack();
// Zeroes the whole buffer of `text` (its capacity) and empties it.
void scrub(std::string& text);
// Zeroes the buffer of `text` past its size: what erase() left there.
void scrub_tail(std::string& text);

} // namespace cellbox::kernel::hygiene
