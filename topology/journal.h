// The embedded Store: an append-only journal plus a snapshot in one
// directory.
//
//   DIR/snapshot   one framed record: ControllerState
//   DIR/journal    framed records: Change, sequence numbers consecutive
//
// A framed record is a 4-byte little-endian payload length, the 4-byte
// little-endian CRC-32C of the payload, then the payload. Every append is
// written with one write() and fdatasync()ed before Append returns.
// Recovery stops at the first record that is torn (short), fails its
// checksum, does not parse, or breaks the sequence; everything from there on
// is moved to DIR/journal.discarded.<unix seconds>, reported, and never
// replayed. A snapshot is written to a temporary file, synced and renamed
// over the old one; then the journal restarts empty.
#ifndef CASCADE_TOPOLOGY_JOURNAL_H_
#define CASCADE_TOPOLOGY_JOURNAL_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "topology/store.h"

namespace cascade::topology {

// Frames `payload` as one record.
std::string FrameRecord(absl::string_view payload);

class JournalStore : public Store {
 public:
  explicit JournalStore(std::string dir);
  ~JournalStore() override;
  JournalStore(const JournalStore&) = delete;
  JournalStore& operator=(const JournalStore&) = delete;

  absl::StatusOr<RecoveredState> Recover() override;
  absl::Status Append(const cascade::v1::Change& change) override;
  absl::Status WriteSnapshot(
      const cascade::v1::ControllerState& state) override;
  uint64_t RecordsSinceSnapshot() const override { return records_; }

  std::string JournalPath() const { return dir_ + "/journal"; }
  std::string SnapshotPath() const { return dir_ + "/snapshot"; }

 private:
  absl::Status OpenJournalForAppend();
  // Holds the directory's lock file (flock) for the store's life.
  absl::Status Lock();

  std::string dir_;
  int lock_fd_ = -1;
  int fd_ = -1;
  // Length of the intact part of the journal: where the next record goes.
  uint64_t size_ = 0;
  uint64_t records_ = 0;
};

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_JOURNAL_H_
