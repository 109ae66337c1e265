#include "tools/sim/scenario_file.h"

#include "base/files.h"
#include "google/protobuf/text_format.h"

namespace cascade::sim {

absl::StatusOr<cascade::v1::SimScenario> LoadScenario(
    const std::string& path, const ScenarioOverrides& overrides) {
  const absl::StatusOr<std::string> text = cascade::ReadFile(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError("--scenario: " +
                                      std::string(text.status().message()));
  }
  cascade::v1::SimScenario scenario;
  if (!google::protobuf::TextFormat::ParseFromString(*text, &scenario)) {
    return absl::InvalidArgumentError(
        "--scenario: " + path +
        " is not a cascade.v1.SimScenario textproto (see stderr)");
  }
  if (!(scenario.duration_s() > 0)) {
    return absl::InvalidArgumentError(
        "--scenario: duration_s must be positive");
  }
  const double duration = overrides.duration_s;
  if (duration < 0) {
    return absl::InvalidArgumentError("--duration must be >= 0");
  }
  if (duration > 0) {
    const double factor = duration / scenario.duration_s();
    for (cascade::v1::SimStep& step : *scenario.mutable_steps()) {
      step.set_at_s(step.at_s() * factor);
      if (step.has_restart_controller_after_s()) {
        step.set_restart_controller_after_s(step.restart_controller_after_s() *
                                            factor);
      }
      if (step.has_stall_leader_s()) {
        step.set_stall_leader_s(step.stall_leader_s() * factor);
      }
    }
    scenario.set_duration_s(duration);
  }
  if (overrides.video_kbps < 0 || overrides.frame_rate < 0 ||
      overrides.frame_rate > 60) {
    return absl::InvalidArgumentError(
        "--bitrate must be >= 0 and --fps within 0..60");
  }
  if (overrides.video_kbps > 0) scenario.set_video_kbps(overrides.video_kbps);
  if (scenario.video_kbps() == 0) {
    scenario.set_video_kbps(overrides.default_kbps);
  }
  if (overrides.frame_rate > 0) scenario.set_frame_rate(overrides.frame_rate);
  if (scenario.frame_rate() == 0) {
    scenario.set_frame_rate(overrides.default_fps);
  }
  return scenario;
}

absl::Status CheckStepNodes(const NetworkPlan& plan,
                            const cascade::v1::SimScenario& scenario) {
  for (const cascade::v1::SimStep& step : scenario.steps()) {
    for (const std::string* node :
         {&step.kill(), &step.revive(), &step.drain(), &step.restore()}) {
      if (node->empty()) continue;
      if (absl::StatusOr<std::string> id = plan.Resolve(*node); !id.ok()) {
        return absl::InvalidArgumentError(
            "--scenario: step \"" + step.label() +
            "\": " + std::string(id.status().message()));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace cascade::sim
