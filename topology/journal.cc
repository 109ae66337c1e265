#include "topology/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/files.h"
#include "topology/crc32c.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;
using cascade::v1::ControllerState;

constexpr size_t kHeaderSize = 8;
// Larger than any sane state (100k nodes is a few tens of MB); a length
// beyond it is corruption, not a record.
constexpr uint32_t kMaxRecordSize = 256u << 20;

void PutLittleEndian32(uint32_t value, char* out) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(value >> (8 * i));
}

uint32_t GetLittleEndian32(const char* in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    value |= static_cast<uint32_t>(static_cast<unsigned char>(in[i]))
             << (8 * i);
  }
  return value;
}

// Reads the whole file; a missing file reads as empty.
absl::StatusOr<std::string> ReadWholeFile(const std::string& path,
                                          bool* exists) {
  absl::StatusOr<std::string> data = ReadFile(path);
  *exists = data.ok();
  if (data.status().code() == absl::StatusCode::kNotFound) {
    return std::string();
  }
  return data;
}

// One record parsed from `data` at `offset`, or the reason there is none.
struct Parsed {
  absl::string_view payload;
  size_t next_offset = 0;
  std::string error;  // empty when payload is valid
};

Parsed ParseRecord(absl::string_view data, size_t offset) {
  Parsed parsed;
  size_t left = data.size() - offset;
  if (left < kHeaderSize) {
    parsed.error = absl::StrCat("torn record header (", left, " of ",
                                kHeaderSize, " bytes)");
    return parsed;
  }
  uint32_t length = GetLittleEndian32(data.data() + offset);
  uint32_t crc = GetLittleEndian32(data.data() + offset + 4);
  if (length > kMaxRecordSize) {
    parsed.error = absl::StrCat("impossible record length ", length);
    return parsed;
  }
  if (left - kHeaderSize < length) {
    parsed.error = absl::StrCat("torn record (", left - kHeaderSize, " of ",
                                length, " payload bytes)");
    return parsed;
  }
  absl::string_view payload = data.substr(offset + kHeaderSize, length);
  if (Crc32c(payload) != crc) {
    parsed.error = "record checksum mismatch";
    return parsed;
  }
  parsed.payload = payload;
  parsed.next_offset = offset + kHeaderSize + length;
  return parsed;
}

}  // namespace

std::string FrameRecord(absl::string_view payload) {
  std::string record(kHeaderSize, '\0');
  PutLittleEndian32(static_cast<uint32_t>(payload.size()), &record[0]);
  PutLittleEndian32(Crc32c(payload), &record[4]);
  record.append(payload.data(), payload.size());
  return record;
}

JournalStore::JournalStore(std::string dir) : dir_(std::move(dir)) {}

JournalStore::~JournalStore() {
  if (fd_ >= 0) close(fd_);
  if (lock_fd_ >= 0) close(lock_fd_);
}

absl::Status JournalStore::Lock() {
  const std::string path = dir_ + "/lock";
  lock_fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd_ < 0) return ErrnoStatus("cannot open", path);
  if (flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    close(lock_fd_);
    lock_fd_ = -1;
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state directory ", dir_, " is in use by another topologyd (", path,
          " is locked)"));
    }
    errno = error;
    return ErrnoStatus("cannot lock", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<RecoveredState> JournalStore::Recover() {
  if (mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus("cannot create state directory", dir_);
  }
  // Two controllers appending to one journal would interleave their
  // records: the second one refuses to start.
  if (lock_fd_ < 0) {
    if (absl::Status s = Lock(); !s.ok()) return s;
  }
  RecoveredState recovered;
  bool exists = false;
  absl::StatusOr<std::string> snapshot = ReadWholeFile(SnapshotPath(), &exists);
  if (!snapshot.ok()) return snapshot.status();
  if (exists) {
    // The snapshot is replaced atomically, so damage here is not a crash
    // artefact: refuse to guess.
    Parsed parsed = ParseRecord(*snapshot, 0);
    if (!parsed.error.empty() || parsed.next_offset != snapshot->size() ||
        !recovered.snapshot.ParseFromString(std::string(parsed.payload))) {
      return absl::DataLossError(absl::StrCat(
          "snapshot ", SnapshotPath(), " is damaged: ",
          parsed.error.empty() ? "unparsable state" : parsed.error));
    }
  }

  absl::StatusOr<std::string> journal = ReadWholeFile(JournalPath(), &exists);
  if (!journal.ok()) return journal.status();
  uint64_t expected = recovered.snapshot.sequence() + 1;
  size_t offset = 0;
  while (offset < journal->size()) {
    Parsed parsed = ParseRecord(*journal, offset);
    Change change;
    if (parsed.error.empty() &&
        !change.ParseFromString(std::string(parsed.payload))) {
      parsed.error = "record does not parse";
    }
    if (parsed.error.empty() && change.sequence() >= expected &&
        change.sequence() != expected) {
      parsed.error = absl::StrCat("sequence gap: expected ", expected,
                                  ", found ", change.sequence());
    }
    if (!parsed.error.empty()) {
      recovered.discarded_bytes = journal->size() - offset;
      recovered.note = absl::StrCat(
          "journal ", JournalPath(), ": ", parsed.error, " at offset ", offset,
          "; ", recovered.discarded_bytes, " bytes set aside, not replayed");
      break;
    }
    // Records already folded into the snapshot (a crash between writing
    // the snapshot and restarting the journal) are skipped.
    if (change.sequence() == expected) {
      recovered.changes.push_back(std::move(change));
      ++expected;
    }
    offset = parsed.next_offset;
  }

  if (recovered.discarded_bytes > 0) {
    std::string aside = absl::StrCat(JournalPath(), ".discarded.",
                                     absl::ToUnixSeconds(absl::Now()));
    absl::Status status = WriteFileAtomically(
        aside, absl::string_view(*journal).substr(offset), 0600);
    if (!status.ok()) return status;
    if (truncate(JournalPath().c_str(), static_cast<off_t>(offset)) != 0) {
      return ErrnoStatus("cannot truncate", JournalPath());
    }
  }
  size_ = offset;
  records_ = recovered.changes.size();
  absl::Status status = OpenJournalForAppend();
  if (!status.ok()) return status;
  return recovered;
}

absl::Status JournalStore::OpenJournalForAppend() {
  if (fd_ >= 0) close(fd_);
  fd_ = open(JournalPath().c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) return ErrnoStatus("cannot open", JournalPath());
  // The journal holds the nodes' keys: a file an older topologyd (or a
  // copy) left wider than 0600 is narrowed, since O_CREAT's mode applies
  // only to a new file.
  if (fchmod(fd_, 0600) != 0) return ErrnoStatus("cannot chmod", JournalPath());
  if (fsync(fd_) != 0) return ErrnoStatus("cannot sync", JournalPath());
  return SyncDirectory(dir_);
}

absl::Status JournalStore::Append(const Change& change) {
  if (fd_ < 0) return absl::FailedPreconditionError("journal is not open");
  std::string record = FrameRecord(change.SerializeAsString());
  if (lseek(fd_, static_cast<off_t>(size_), SEEK_SET) < 0) {
    return ErrnoStatus("cannot seek", JournalPath());
  }
  absl::Status status = WriteAll(fd_, record, JournalPath());
  if (status.ok() && fdatasync(fd_) != 0) {
    status = ErrnoStatus("cannot sync", JournalPath());
  }
  if (!status.ok()) {
    // Never leave a partial record for the next append to follow.
    if (ftruncate(fd_, static_cast<off_t>(size_)) != 0) {
      // The tail cannot be cut: refuse further appends rather than write
      // after garbage. Recovery will set the partial record aside.
      close(fd_);
      fd_ = -1;
    }
    return status;
  }
  size_ += record.size();
  ++records_;
  return absl::OkStatus();
}

absl::Status JournalStore::WriteSnapshot(const ControllerState& state) {
  absl::Status status = WriteFileAtomically(
      SnapshotPath(), FrameRecord(state.SerializeAsString()), 0600);
  if (!status.ok()) return status;
  // The snapshot holds everything: restart the journal empty.
  status = WriteFileAtomically(JournalPath(), "", 0600);
  if (!status.ok()) return status;
  size_ = 0;
  records_ = 0;
  return OpenJournalForAppend();
}

}  // namespace cascade::topology
