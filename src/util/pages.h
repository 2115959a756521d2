// util/pages.h — handing read-only, file-backed memory back to the kernel so it does not count
// in the server's resident memory (an appliance's budget is ~15 MB).  Reading or executing the
// memory again stays correct: the kernel faults the pages back in from the binary (page cache).
#pragma once
#include <string_view>

namespace ef::pages {

// The whole pages inside `text` (e.g. an embedded table that was parsed once).
void release(std::string_view text);
// Every page that holds a byte of `part` (a row of the table `whole`), but none outside the
// whole pages of `whole`: a row parsed from an embedded table, whose neighbours fault back in
// if they are read again.
void release_within(std::string_view part, std::string_view whole);

// The executable's own code pages (its r-xp mapping): start-up runs code that serving never
// runs again (config, migrations, definition tables, the CapabilityStatement); after it, only
// what requests execute faults back in.  Linux only; a no-op elsewhere or on any failure.
void release_own_code();

}  // namespace ef::pages
