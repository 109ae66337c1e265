#include "topology/controller_fixture.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "topology/topology_file.h"

namespace cascade::topology {

using cascade::v1::Assignment;
using cascade::v1::Change;

const char kReferenceTopology[] = R"pb(
  nodes {
    id: "nat"
    tier: TIER_NATIONAL
    media_address: "127.1.0.1:5004"
    capacity { max_children: 8 }
  }
  nodes {
    id: "p1"
    tier: TIER_PROVINCIAL
    parent: "nat"
    labels { key: "region" value: "r1" }
    media_address: "127.2.1.1:5004"
    capacity { max_children: 6 }
  }
  nodes {
    id: "p1-sb"
    tier: TIER_PROVINCIAL
    role: ROLE_STANDBY
    parent: "nat"
    labels { key: "region" value: "r1" }
    media_address: "127.2.1.2:5004"
    capacity { max_children: 2 }
  }
  nodes {
    id: "p2"
    tier: TIER_PROVINCIAL
    parent: "nat"
    labels { key: "region" value: "r2" }
    media_address: "127.2.2.1:5004"
    capacity { max_children: 4 }
  }
  nodes {
    id: "d1"
    tier: TIER_DISTRICT
    parent: "p1"
    media_address: "127.3.0.1:5004"
    capacity { max_children: 4 }
  }
  nodes {
    id: "d2"
    tier: TIER_DISTRICT
    parent: "p1"
    media_address: "127.3.0.2:5004"
    capacity { max_children: 4 }
  }
  nodes {
    id: "d3"
    tier: TIER_DISTRICT
    parent: "p1"
    media_address: "127.3.0.3:5004"
    capacity { max_children: 4 }
  }
  nodes {
    id: "s1"
    tier: TIER_SITE
    parent: "d1"
    standby_parents: "p1"
    media_address: "127.10.0.1:5004"
  }
  nodes {
    id: "s2"
    tier: TIER_SITE
    parent: "d1"
    standby_parents: "p1"
    media_address: "127.10.0.2:5004"
    plain_endpoint: true
  }
  nodes {
    id: "s3"
    tier: TIER_SITE
    parent: "d2"
    standby_parents: "p1"
    media_address: "127.10.0.3:5004"
  }
  streams {
    id: "cmd"
    direction: DIRECTION_DOWNSTREAM
    bitrate_kbps: 2500
    tracks { ssrc: 100 media: "video" payload_type: 96 encoding: "H264/90000" }
    tracks {
      ssrc: 101
      media: "audio"
      payload_type: 111
      encoding: "opus/48000/2"
    }
  }
  streams {
    id: "s1-up"
    direction: DIRECTION_UPSTREAM
    source_node: "s1"
    tracks { ssrc: 500 media: "video" }
  }
)pb";

const std::vector<std::string> kRelays = {"nat", "p1", "p1-sb", "p2",
                                          "d1",  "d2", "d3"};

void Recorder::OnAssignment(std::shared_ptr<const Assignment> assignment) {
  latest[assignment->node_id()] = assignment;
  ++pushes[assignment->node_id()];
}

void Recorder::OnNodeRemoved(const std::string& node_id) {
  removed.push_back(node_id);
}

void Recorder::OnEvent(const cascade::v1::Event& event) {
  events.push_back(event);
}

void Recorder::OnCertificateRevoked() { ++revocations; }

std::vector<std::string> ParentIds(const Assignment& assignment) {
  std::vector<std::string> ids;
  for (const auto& p : assignment.parents()) ids.push_back(p.id());
  return ids;
}

std::vector<std::string> Ids(
    const google::protobuf::RepeatedPtrField<cascade::v1::Peer>& peers) {
  std::vector<std::string> ids;
  for (const auto& p : peers) ids.push_back(p.id());
  return ids;
}

void ControllerTest::SetUp() {
  dir_ = std::string(getenv("TEST_TMPDIR")) + "/" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
  mkdir(dir_.c_str(), 0700);
  std::remove((dir_ + "/journal").c_str());
  std::remove((dir_ + "/snapshot").c_str());
}

void ControllerTest::Start(ControllerOptions options) {
  controller_.reset();
  store_ = std::make_unique<JournalStore>(dir_);
  gated_ = std::make_unique<GatedStore>(store_.get());
  controller_ = std::make_unique<Controller>(&clock_, gated_.get(), options);
  ASSERT_TRUE(controller_->Recover().ok());
  recorder_ = Recorder();
  controller_->SetListener(&recorder_);
}

void ControllerTest::ApplyReference() {
  absl::StatusOr<TopologyText> parsed =
      ParseTopologyText(kReferenceTopology, "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  Change change;
  *change.mutable_apply()->mutable_topology() = parsed->topology;
  ASSERT_TRUE(controller_->Submit(change).ok());
}

void ControllerTest::RegisterAll(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    cascade::v1::RegisterRequest request;
    request.set_node_id(id);
    ASSERT_TRUE(controller_->Register(request).ok()) << id;
  }
}

std::vector<std::string> ControllerTest::Parents(const std::string& id) {
  return ParentIds(*controller_->CurrentAssignment(id));
}

absl::StatusCode ControllerTest::Code(const Change& change) {
  return controller_->Submit(change).status().code();
}

void ReportAllBut(Controller* controller,
                  const std::vector<std::string>& silent) {
  for (const std::string& id : kRelays) {
    if (std::find(silent.begin(), silent.end(), id) != silent.end()) continue;
    cascade::v1::ReportRequest report;
    report.set_node_id(id);
    auto assignment = controller->CurrentAssignment(id);
    if (assignment != nullptr && assignment->parents_size() > 0) {
      report.mutable_stats()->set_receiving_from(assignment->parents(0).id());
    }
    ASSERT_TRUE(controller->Report(report).ok()) << id;
  }
}

void RunFor(FakeClock* clock, Controller* controller, absl::Duration total,
            absl::Duration step,
            const std::function<std::vector<std::string>()>& silent_at) {
  for (absl::Duration t; t < total; t += step) {
    clock->Advance(step);
    ReportAllBut(controller, silent_at());
    controller->Tick();
    controller->AwaitCommitted();
  }
}

}  // namespace cascade::topology
