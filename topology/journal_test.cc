#include "topology/journal.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

namespace cascade::topology {
namespace {

using cascade::v1::Change;

std::string FreshDir(const std::string& name) {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/" + name;
  mkdir(dir.c_str(), 0700);
  std::remove((dir + "/journal").c_str());
  std::remove((dir + "/snapshot").c_str());
  return dir;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  return data.str();
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

Change Drain(uint64_t sequence, const std::string& id) {
  Change change;
  change.set_sequence(sequence);
  change.mutable_drain()->set_id(id);
  return change;
}

TEST(JournalTest, AppendedChangesRecoverInOrder) {
  std::string dir = FreshDir("roundtrip");
  {
    JournalStore store(dir);
    ASSERT_TRUE(store.Recover().ok());
    for (uint64_t s = 1; s <= 3; ++s) {
      ASSERT_TRUE(store.Append(Drain(s, "n" + std::to_string(s))).ok());
    }
    EXPECT_EQ(store.RecordsSinceSnapshot(), 3u);
  }
  JournalStore store(dir);
  absl::StatusOr<RecoveredState> recovered = store.Recover();
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  ASSERT_EQ(recovered->changes.size(), 3u);
  EXPECT_EQ(recovered->changes[2].drain().id(), "n3");
  EXPECT_EQ(recovered->discarded_bytes, 0u);
  EXPECT_TRUE(recovered->note.empty());
}

// kill -9 during an append leaves any prefix of the last record on disk:
// every one is detected, never replayed, and the journal stays appendable.
TEST(JournalTest, TornLastRecordAtEveryOffsetIsSetAside) {
  std::string dir = FreshDir("torn_source");
  size_t intact_size = 0;
  {
    JournalStore store(dir);
    ASSERT_TRUE(store.Recover().ok());
    ASSERT_TRUE(store.Append(Drain(1, "a")).ok());
    ASSERT_TRUE(store.Append(Drain(2, "b")).ok());
    intact_size = ReadAll(store.JournalPath()).size();
    ASSERT_TRUE(store.Append(Drain(3, "c")).ok());
  }
  const std::string full = ReadAll(dir + "/journal");
  ASSERT_GT(full.size(), intact_size);
  for (size_t cut = intact_size; cut < full.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::string torn_dir = FreshDir("torn");
    WriteAll(torn_dir + "/journal", full.substr(0, cut));
    {
      JournalStore store(torn_dir);
      absl::StatusOr<RecoveredState> recovered = store.Recover();
      ASSERT_TRUE(recovered.ok()) << recovered.status();
      ASSERT_EQ(recovered->changes.size(), 2u);
      EXPECT_EQ(recovered->discarded_bytes, cut - intact_size);
      EXPECT_EQ(recovered->note.empty(), cut == intact_size);
      if (cut > intact_size) {
        EXPECT_NE(recovered->note.find("torn"), std::string::npos)
            << recovered->note;
      }
      // The next append follows the intact records, not the torn bytes.
      ASSERT_TRUE(store.Append(Drain(3, "c2")).ok());
    }
    JournalStore store(torn_dir);
    absl::StatusOr<RecoveredState> recovered = store.Recover();
    ASSERT_TRUE(recovered.ok());
    ASSERT_EQ(recovered->changes.size(), 3u);
    EXPECT_EQ(recovered->changes[2].drain().id(), "c2");
    EXPECT_TRUE(recovered->note.empty());
  }
}

TEST(JournalTest, CorruptChecksumIsReportedAndNeverUsed) {
  std::string dir = FreshDir("corrupt");
  size_t intact_size = 0;
  {
    JournalStore store(dir);
    ASSERT_TRUE(store.Recover().ok());
    ASSERT_TRUE(store.Append(Drain(1, "a")).ok());
    intact_size = ReadAll(store.JournalPath()).size();
    ASSERT_TRUE(store.Append(Drain(2, "b")).ok());
  }
  std::string data = ReadAll(dir + "/journal");
  data[data.size() - 1] ^= 0x01;  // last payload byte: length still right
  WriteAll(dir + "/journal", data);

  JournalStore store(dir);
  absl::StatusOr<RecoveredState> recovered = store.Recover();
  ASSERT_TRUE(recovered.ok());
  ASSERT_EQ(recovered->changes.size(), 1u);
  EXPECT_EQ(recovered->changes[0].drain().id(), "a");
  EXPECT_EQ(recovered->discarded_bytes, data.size() - intact_size);
  EXPECT_NE(recovered->note.find("checksum"), std::string::npos)
      << recovered->note;
  // The bad bytes are kept aside for inspection, out of the journal.
  EXPECT_EQ(ReadAll(dir + "/journal").size(), intact_size);
}

TEST(JournalTest, SequenceGapStopsReplay) {
  std::string dir = FreshDir("gap");
  {
    JournalStore store(dir);
    ASSERT_TRUE(store.Recover().ok());
    ASSERT_TRUE(store.Append(Drain(1, "a")).ok());
    ASSERT_TRUE(store.Append(Drain(3, "c")).ok());
  }
  JournalStore store(dir);
  absl::StatusOr<RecoveredState> recovered = store.Recover();
  ASSERT_TRUE(recovered.ok());
  EXPECT_EQ(recovered->changes.size(), 1u);
  EXPECT_NE(recovered->note.find("sequence gap"), std::string::npos);
}

TEST(JournalTest, SnapshotThenReplayOfLaterChanges) {
  std::string dir = FreshDir("snapshot");
  std::string old_journal;
  {
    JournalStore store(dir);
    ASSERT_TRUE(store.Recover().ok());
    ASSERT_TRUE(store.Append(Drain(1, "a")).ok());
    ASSERT_TRUE(store.Append(Drain(2, "b")).ok());
    old_journal = ReadAll(store.JournalPath());
    cascade::v1::ControllerState state;
    state.set_sequence(2);
    state.add_selected_sites("site-1");
    ASSERT_TRUE(store.WriteSnapshot(state).ok());
    EXPECT_EQ(store.RecordsSinceSnapshot(), 0u);
    ASSERT_TRUE(store.Append(Drain(3, "c")).ok());
  }
  {
    JournalStore store(dir);
    absl::StatusOr<RecoveredState> recovered = store.Recover();
    ASSERT_TRUE(recovered.ok());
    EXPECT_EQ(recovered->snapshot.sequence(), 2u);
    EXPECT_EQ(recovered->snapshot.selected_sites(0), "site-1");
    ASSERT_EQ(recovered->changes.size(), 1u);
    EXPECT_EQ(recovered->changes[0].sequence(), 3u);
  }
  // A crash after the snapshot but before the journal restarted leaves
  // records the snapshot already holds: they are skipped, not replayed twice.
  WriteAll(dir + "/journal", old_journal);
  JournalStore store(dir);
  absl::StatusOr<RecoveredState> recovered = store.Recover();
  ASSERT_TRUE(recovered.ok());
  EXPECT_TRUE(recovered->changes.empty());
  EXPECT_TRUE(recovered->note.empty());
}

TEST(JournalTest, DamagedSnapshotRefusesToStart) {
  std::string dir = FreshDir("bad_snapshot");
  WriteAll(dir + "/snapshot", FrameRecord("x").substr(0, 6));
  JournalStore store(dir);
  absl::StatusOr<RecoveredState> recovered = store.Recover();
  EXPECT_EQ(recovered.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
TEST(JournalTest, SecondStoreOnOneDirectoryIsRefused) {
  const std::string dir = FreshDir("locked");
  JournalStore first(dir);
  ASSERT_TRUE(first.Recover().ok());
  JournalStore second(dir);
  absl::StatusOr<RecoveredState> refused = second.Recover();
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("in use by another topologyd"),
            std::string::npos)
      << refused.status();
}

// The journal and snapshot hold the nodes' keys: only the owner reads them,
// whatever the umask, and a journal left wider (an older topologyd's, a
// copy) is narrowed.
TEST(JournalTest, StateFilesAreTheOwnersOnly) {
  const std::string parent = FreshDir("modes");
  const std::string dir = parent + "/state";
  // Files are made with the widest umask, restored however the test ends.
  struct Umask {
    mode_t was = umask(0);
    ~Umask() { umask(was); }
  } umask_zero;
  auto mode = [](const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
  };
  {
    JournalStore store(dir);
    ASSERT_TRUE(store.Recover().ok());
    ASSERT_TRUE(store.Append(Drain(1, "d1")).ok());
    cascade::v1::ControllerState state;
    state.set_sequence(1);
    ASSERT_TRUE(store.WriteSnapshot(state).ok());
    ASSERT_TRUE(store.Append(Drain(2, "d2")).ok());
  }
  EXPECT_EQ(mode(dir), 0700u);
  for (const char* file : {"journal", "snapshot", "lock"}) {
    EXPECT_EQ(mode(dir + "/" + file), 0600u) << file;
  }
  ASSERT_EQ(chmod((dir + "/journal").c_str(), 0644), 0);
  {
    JournalStore again(dir);
    ASSERT_TRUE(again.Recover().ok());
  }
  EXPECT_EQ(mode(dir + "/journal"), 0600u);
}

TEST(JournalTest, DirectoryIsFreeOnceTheStoreIsGone) {
  const std::string dir = FreshDir("released");
  { ASSERT_TRUE(JournalStore(dir).Recover().ok()); }
  JournalStore again(dir);
  EXPECT_TRUE(again.Recover().ok());
}

}  // namespace cascade::topology
