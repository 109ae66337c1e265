// The incremental plan checked against a full recompute after random
// changes.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/fake_clock.h"
#include "topology/controller.h"
#include "topology/controller_fixture.h"
#include "topology/fake_store.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;

// A random four-tier topology with tight capacities (so failures orphan
// nodes and standbys compete), standby-role nodes, configured standbys,
// plain endpoints, upstream streams and fixed keys (so two controllers
// derive the same link keys).
cascade::v1::Topology RandomTopology(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  cascade::v1::Topology topology;
  int address = 0;
  auto add = [&](const std::string& id, cascade::v1::Tier tier,
                 const std::string& parent, const std::string& region) {
    cascade::v1::Node* node = topology.add_nodes();
    node->set_id(id);
    node->set_tier(tier);
    node->set_parent(parent);
    node->set_key("key-of-" + id);
    ++address;
    node->set_media_address(
        absl::StrCat("127.9.", address / 250, ".", address % 250 + 1, ":5004"));
    if (!region.empty()) (*node->mutable_labels())["region"] = region;
    return node;
  };
  add("nat-1", cascade::v1::TIER_NATIONAL, "", "");
  add("nat-2", cascade::v1::TIER_NATIONAL, "", "")
      ->set_role(cascade::v1::ROLE_STANDBY);
  std::vector<std::string> sites;
  const int provinces = pick(2, 4);
  for (int p = 1; p <= provinces; ++p) {
    const std::string province = absl::StrCat("p", p);
    const std::string region = absl::StrCat("r", pick(1, 2));
    cascade::v1::Node* primary =
        add(province, cascade::v1::TIER_PROVINCIAL, "nat-1", region);
    if (pick(0, 1)) primary->add_standby_parents("nat-2");
    add(province + "-sb", cascade::v1::TIER_PROVINCIAL, "nat-1", region)
        ->set_role(cascade::v1::ROLE_STANDBY);
    const int districts = pick(1, 4);
    for (int d = 1; d <= districts; ++d) {
      const std::string district = absl::StrCat(province, "-d", d);
      add(district, cascade::v1::TIER_DISTRICT, province, "");
      const int count = pick(1, 4);
      for (int k = 1; k <= count; ++k) {
        const std::string site = absl::StrCat(district, "-s", k);
        cascade::v1::Node* node =
            add(site, cascade::v1::TIER_SITE, district, "");
        if (pick(0, 2) > 0) node->add_standby_parents(province);
        node->set_plain_endpoint(pick(0, 4) == 0);
        sites.push_back(site);
      }
    }
  }
  // Room for the children that name a node, and a little more at random.
  std::map<std::string, int> children;
  for (const auto& node : topology.nodes()) ++children[node.parent()];
  for (auto& node : *topology.mutable_nodes()) {
    if (node.tier() == cascade::v1::TIER_SITE) continue;
    node.mutable_capacity()->set_max_children(children[node.id()] + pick(0, 2));
  }
  cascade::v1::Stream* command = topology.add_streams();
  command->set_id("cmd");
  command->set_direction(cascade::v1::DIRECTION_DOWNSTREAM);
  command->set_bitrate_kbps(1000);
  command->add_tracks()->set_ssrc(100);
  for (int k = 0; k < 2; ++k) {
    cascade::v1::Stream* up = topology.add_streams();
    up->set_id(absl::StrCat("up", k));
    up->set_direction(cascade::v1::DIRECTION_UPSTREAM);
    up->set_source_node(sites[pick(0, static_cast<int>(sites.size()) - 1)]);
    up->add_tracks()->set_ssrc(500 + k);
  }
  return topology;
}

// The incremental controller and the reference one (every recompute from
// scratch) fed the same random sequence of reports, silences, lease
// expiries, admin changes and restarts on one clock: after every step each
// node's assignment (version included, so also which pushes happened), the
// admin view and the stats must be identical.
void RunAgainstReference(uint32_t seed,
                         cascade::v1::RestorePolicy default_policy) {
  SCOPED_TRACE(absl::StrCat("seed ", seed, " policy ", default_policy));
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng);
  };
  FakeClock clock;
  ControllerOptions options;
  options.lease_timeout = absl::Seconds(3);
  options.reintegrate_after = absl::Seconds(1);
  options.reintegrate_max = absl::Seconds(8);
  options.restart_learning = absl::Seconds(4);
  options.snapshot_every = 25;
  options.default_policy = default_policy;
  ControllerOptions reference_options = options;
  reference_options.incremental = false;
  MemoryStore store, reference_store;
  std::unique_ptr<Controller> controller, reference;
  Recorder recorder, reference_recorder;
  auto start = [&] {
    controller = std::make_unique<Controller>(&clock, &store, options);
    reference = std::make_unique<Controller>(&clock, &reference_store,
                                             reference_options);
    ASSERT_TRUE(controller->Recover().ok());
    ASSERT_TRUE(reference->Recover().ok());
    recorder = Recorder();
    reference_recorder = Recorder();
    controller->SetListener(&recorder);
    reference->SetListener(&reference_recorder);
  };
  start();
  // Both must accept or refuse alike.
  auto submit = [&](const Change& change) {
    ASSERT_EQ(controller->Submit(change).status().code(),
              reference->Submit(change).status().code())
        << change.DebugString();
  };
  Change apply;
  *apply.mutable_apply()->mutable_topology() = RandomTopology(rng);
  submit(apply);

  std::set<std::string> silent;
  auto ids = [&] {
    std::vector<std::string> out;
    absl::StatusOr<cascade::v1::GetTopologyResponse> topology =
        controller->GetTopology("");
    if (topology.ok()) {
      for (const auto& node : topology->nodes()) out.push_back(node.id());
    }
    return out;
  };
  auto random_id = [&] {
    std::vector<std::string> all = ids();
    return all[pick(0, static_cast<int>(all.size()) - 1)];
  };
  auto report = [&](const std::string& id, const std::string& silent_child) {
    cascade::v1::ReportRequest request;
    request.set_node_id(id);
    auto assignment = controller->CurrentAssignment(id);
    if (assignment != nullptr && assignment->parents_size() > 0) {
      // Mostly the active parent; now and then the standby (a relay that
      // failed over on its own).
      request.mutable_stats()->set_receiving_from(
          assignment
              ->parents(pick(0, 5) == 0 ? assignment->parents_size() - 1 : 0)
              .id());
    }
    if (!silent_child.empty()) {
      request.mutable_stats()->add_silent_children(silent_child);
    }
    ASSERT_EQ(controller->Report(request).code(),
              reference->Report(request).code());
  };

  constexpr int kSteps = 300;
  int pushes_seen = 0;
  for (int step = 0; step < kSteps; ++step) {
    SCOPED_TRACE(absl::StrCat("step ", step));
    const int action = pick(0, 19);
    if (action < 8) {
      // Time passes; everyone not silenced reports, then the timers run.
      clock.Advance(absl::Milliseconds(pick(100, 1500)));
      for (const std::string& id : ids()) {
        if (silent.count(id) == 0 && pick(0, 9) > 0) report(id, "");
      }
      EXPECT_EQ(controller->Tick(), reference->Tick());
    } else if (action < 11) {
      // A node falls silent or comes back.
      std::string id = random_id();
      if (!silent.erase(id)) silent.insert(id);
    } else if (action == 11) {
      // A parent reports one of its active children silent.
      std::string id = random_id();
      auto assignment = controller->CurrentAssignment(id);
      if (assignment != nullptr && assignment->active_children_size() > 0) {
        report(id, assignment
                       ->active_children(
                           pick(0, assignment->active_children_size() - 1))
                       .id());
      }
    } else if (action < 15) {
      Change change;
      const std::string id = random_id();
      switch (pick(0, 2)) {
        case 0:
          change.mutable_drain()->set_id(id);
          break;
        case 1:
          change.mutable_failover()->set_id(id);
          break;
        default:
          change.mutable_restore()->set_id(id);
          change.mutable_restore()->set_policy(
              static_cast<cascade::v1::RestorePolicy>(pick(0, 2)));
          break;
      }
      submit(change);
    } else if (action == 15) {
      Change change;
      const std::string site = random_id();
      if (pick(0, 1)) {
        change.mutable_select()->set_site(site);
      } else {
        change.mutable_release()->set_site(site);
      }
      submit(change);
    } else if (action == 16) {
      Change change;
      change.mutable_move()->set_id(random_id());
      change.mutable_move()->set_new_parent(random_id());
      submit(change);
    } else if (action == 17) {
      Change change;
      if (pick(0, 1)) {
        cascade::v1::Node* node = change.mutable_add()->mutable_node();
        node->set_id(absl::StrCat("new-", step));
        node->set_tier(cascade::v1::TIER_SITE);
        node->set_parent(random_id());
        node->set_key(absl::StrCat("key-of-new-", step));
        node->set_media_address(
            absl::StrCat("127.8.0.", step % 250 + 1, ":5004"));
      } else {
        change.mutable_remove()->set_id(random_id());
      }
      submit(change);
    } else if (action == 18) {
      // Re-applying the current topology changes nothing but the version
      // of the state.
      submit(apply);
    } else if (pick(0, 3) == 0) {
      start();
      if (::testing::Test::HasFatalFailure()) return;
    }
    if (::testing::Test::HasFatalFailure()) return;
    // What the timers decided (reintegration pins) applied on both sides.
    controller->AwaitCommitted();
    reference->AwaitCommitted();

    for (const std::string& id : ids()) {
      auto got = controller->CurrentAssignment(id);
      auto want = reference->CurrentAssignment(id);
      ASSERT_EQ(got == nullptr, want == nullptr) << id;
      if (got != nullptr) {
        ASSERT_EQ(got->SerializeAsString(), want->SerializeAsString())
            << id << "\n"
            << got->DebugString() << "\nreference:\n"
            << want->DebugString();
      }
    }
    ASSERT_EQ(controller->GetTopology("")->SerializeAsString(),
              reference->GetTopology("")->SerializeAsString());
    ASSERT_EQ(controller->GetStats().SerializeAsString(),
              reference->GetStats().SerializeAsString());
    ASSERT_EQ(recorder.pushes, reference_recorder.pushes);
    // Removals come in hash-map order: compare them as sets.
    std::vector<std::string> removed = recorder.removed;
    std::vector<std::string> reference_removed = reference_recorder.removed;
    std::sort(removed.begin(), removed.end());
    std::sort(reference_removed.begin(), reference_removed.end());
    ASSERT_EQ(removed, reference_removed);
    ASSERT_EQ(recorder.events.size(), reference_recorder.events.size());
    pushes_seen += static_cast<int>(recorder.pushes.size());
  }
  // The sequence did exercise the controller.
  EXPECT_GT(pushes_seen, kSteps);
}

TEST(IncrementalPlanTest, EqualsAFullRecomputeAfterRandomChanges) {
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    RunAgainstReference(seed, seed % 2 == 0 ? cascade::v1::RESTORE_NON_REVERTIVE
                                            : cascade::v1::RESTORE_REVERTIVE);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace cascade::topology
