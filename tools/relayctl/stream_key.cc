#include "tools/relayctl/stream_key.h"

#include <ostream>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "base/files.h"
#include "google/protobuf/struct.pb.h"
#include "media/srtp/keys.h"
#include "tools/relayctl/json_line.h"
#include "tools/relayctl/relayctl.h"

namespace cascade::relayctl {
namespace {

constexpr char kUsage[] = "stream-key add FILE";

std::string IdHex(const srtp::StreamKey& key) {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(key.id.data()), key.id.size()));
}

}  // namespace

int RunStreamKey(const std::vector<std::string>& args, bool json,
                 std::ostream& out, std::ostream& err) {
  if (args.size() != 3 || args[1] != "add") {
    err << "relayctl: usage: relayctl " << kUsage << "\n";
    return kExitUsage;
  }
  const std::string& path = args[2];
  std::vector<srtp::StreamKey> keys;
  absl::StatusOr<std::string> contents = ReadFile(path);
  if (contents.ok()) {
    absl::StatusOr<std::vector<srtp::StreamKey>> parsed =
        srtp::ParseKeyFile(*contents);
    if (!parsed.ok()) {
      err << "relayctl: " << path << ": " << parsed.status().message() << "\n";
      return kExitRefused;
    }
    keys = *std::move(parsed);
  } else if (!absl::IsNotFound(contents.status())) {
    err << "relayctl: " << contents.status().message() << "\n";
    return kExitFailed;
  }
  if (keys.size() >= srtp::kMaxKeys) {
    err << "relayctl: " << path << " holds " << keys.size()
        << " keys, as many as a receiver holds: remove the oldest first\n";
    return kExitRefused;
  }
  absl::StatusOr<srtp::StreamKey> key = srtp::NextKey(keys);
  if (!key.ok()) {
    err << "relayctl: " << path << ": " << key.status().message() << "\n";
    return absl::IsResourceExhausted(key.status()) ? kExitRefused : kExitFailed;
  }
  keys.push_back(*key);
  // The whole file rewritten, 0600: the key never sits in a file others
  // may read, and a crash leaves the old file or the new one.
  if (absl::Status written =
          WriteFileAtomically(path, srtp::FormatKeyFile(keys), 0600);
      !written.ok()) {
    err << "relayctl: " << written.message() << "\n";
    return kExitFailed;
  }
  if (json) {
    google::protobuf::Struct result;
    auto& fields = *result.mutable_fields();
    fields["file"].set_string_value(path);
    fields["key_id"].set_string_value(IdHex(*key));
    fields["keys"].set_number_value(static_cast<double>(keys.size()));
    PrintJsonLine(result, out);
  } else {
    out << path << ": key " << IdHex(*key) << " added (" << keys.size()
        << (keys.size() == 1 ? " key" : " keys")
        << "). Give the sites this file first, then send relay-source "
           "SIGHUP: it encrypts under the new key from its next packet.\n";
  }
  return kExitDone;
}

std::string StreamKeySummary() { return absl::StrCat("  ", kUsage, "\n"); }

std::string StreamKeyHelp() {
  return absl::StrCat(
      "usage: relayctl ", kUsage,
      "\n\n"
      "Appends a fresh SRTP stream key (AEAD_AES_128_GCM: 16-byte key and "
      "12-byte salt from the kernel's random source) to FILE, with the "
      "next key id, creating FILE if it does not exist. The file is "
      "rewritten whole, mode 0600. Offline: no controller is called.\n\n"
      "relay-source --srtp-key-file=FILE encrypts under the file's last "
      "key; relay-probe (the sites) holds every key of its file, so a "
      "rotation loses nothing when the sites have the new key before the "
      "source switches: add a key, copy the file to the sites, send "
      "relay-source SIGHUP, and later remove the oldest key. A file holds "
      "at most 16 keys. docs/security.md, \"The command stream encrypted "
      "end to end\".\n\n"
      "--json prints {\"file\", \"key_id\", \"keys\"}. Exit: 0 added, 2 "
      "usage, 4 FILE is not a key file or is full, 1 it cannot be read or "
      "written.\n\n"
      "Keys from topologyd instead of files: relay-source and relay-probe "
      "with --controller fetch them, and `relayctl stream-key rotate "
      "[STREAM]` (relayctl help stream-key rotate) makes the next one.\n");
}

}  // namespace cascade::relayctl
