#include "media/srtp/keys.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cascade::srtp {
namespace {

// Hex of exactly `min..max` bytes; `what` names the field in errors.
absl::StatusOr<std::string> Hex(absl::string_view text, absl::string_view what,
                                size_t min, size_t max) {
  const bool hex = std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isxdigit(static_cast<unsigned char>(c));
  });
  if (!hex || text.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not hex (an even number of 0-9a-f digits)"));
  }
  const size_t bytes = text.size() / 2;
  if (bytes < min || bytes > max) {
    return absl::InvalidArgumentError(
        min == max ? absl::StrCat(what, " must be ", min, " bytes (", 2 * min,
                                  " hex digits), got ", bytes)
                   : absl::StrCat(what, " must be ", min, "..", max,
                                  " bytes, got ", bytes));
  }
  return absl::HexStringToBytes(text);
}

}  // namespace

absl::Status CheckKeys(absl::Span<const StreamKey> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("no key");
  if (keys.size() > kMaxKeys) {
    return absl::InvalidArgumentError(
        absl::StrCat(keys.size(), " keys; at most ", kMaxKeys, " are held"));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    const std::vector<uint8_t>& id = keys[i].id;
    if (id.empty() || id.size() > kMaxKeyIdSize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key ", i + 1, ": the id must be 1..", kMaxKeyIdSize, " bytes"));
    }
    if (id.size() != keys[0].id.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "key ", i + 1, ": its id is ", id.size(), " bytes, the first key's ",
          keys[0].id.size(), " (a packet's id is read by that size)"));
    }
    for (size_t j = 0; j < i; ++j) {
      if (keys[j].id == id) {
        return absl::InvalidArgumentError(absl::StrCat(
            "key ", i + 1, ": id ",
            absl::BytesToHexString(absl::string_view(
                reinterpret_cast<const char*>(id.data()), id.size())),
            " is also key ", j + 1, "'s"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<StreamKey>> ParseKeyFile(
    absl::string_view contents) {
  std::vector<StreamKey> keys;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++number;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty() || fields[0][0] == '#') continue;
    const std::string where = absl::StrCat("line ", number, ": ");
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, fields.size(), " fields; want KEY_ID_HEX KEY_HEX"));
    }
    auto id = Hex(fields[0], "key id", 1, kMaxKeyIdSize);
    if (!id.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(where, id.status().message()));
    auto material = Hex(fields[1], "key", kKeyMaterialSize, kKeyMaterialSize);
    if (!material.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, material.status().message()));
    }
    StreamKey key;
    key.id.assign(id->begin(), id->end());
    std::copy(material->begin(), material->end(), key.material.begin());
    keys.push_back(std::move(key));
    if (absl::Status valid = CheckKeys(keys); !valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, valid.message()));
    }
  }
  if (keys.empty()) return absl::InvalidArgumentError("no key in the file");
  return keys;
}

std::string FormatKeyFile(absl::Span<const StreamKey> keys) {
  std::string out;
  for (const StreamKey& key : keys) {
    absl::StrAppend(
        &out,
        absl::BytesToHexString(absl::string_view(
            reinterpret_cast<const char*>(key.id.data()), key.id.size())),
        " ",
        absl::BytesToHexString(absl::string_view(
            reinterpret_cast<const char*>(key.material.data()),
            key.material.size())),
        "\n");
  }
  return out;
}

absl::StatusOr<StreamKey> NextKey(absl::Span<const StreamKey> keys) {
  StreamKey key;
  key.id = keys.empty() ? std::vector<uint8_t>{0} : keys.back().id;
  // Big-endian increment; all 0xff: every id of this size is taken.
  size_t i = key.id.size();
  while (i > 0 && ++key.id[i - 1] == 0) --i;
  if (i == 0) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "every ", key.id.size(), "-byte key id is used: start a new file"));
  }
  size_t filled = 0;
  while (filled < key.material.size()) {
    const ssize_t got = getrandom(key.material.data() + filled,
                                  key.material.size() - filled, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      return absl::UnavailableError(
          absl::StrCat("getrandom: ", std::strerror(errno)));
    }
    filled += static_cast<size_t>(got);
  }
  return key;
}

}  // namespace cascade::srtp
