// relayctl stream-key add FILE: a fresh SRTP stream key appended to a key
// file (media/srtp/keys.h), offline. The file relay-source encrypts with
// (its last key) and the sites decrypt with (every key): rotating is adding
// a key here, handing the file to the sites, then SIGHUP to the source
// (docs/security.md).
#ifndef CASCADE_TOOLS_RELAYCTL_STREAM_KEY_H_
#define CASCADE_TOOLS_RELAYCTL_STREAM_KEY_H_

#include <iosfwd>
#include <string>
#include <vector>

namespace cascade::relayctl {

// `args` is {"stream-key", "add", FILE}. Returns relayctl's exit code: 2
// usage, 4 refused (a file that is not a key file, or holds
// srtp::kMaxKeys keys already, or whose ids are used up), 1 anything else
// that failed.
int RunStreamKey(const std::vector<std::string>& args, bool json,
                 std::ostream& out, std::ostream& err);

// For relayctl stream-key --help, and the line of the general usage.
std::string StreamKeyHelp();
std::string StreamKeySummary();

}  // namespace cascade::relayctl

#endif  // CASCADE_TOOLS_RELAYCTL_STREAM_KEY_H_
