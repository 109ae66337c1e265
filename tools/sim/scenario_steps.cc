#include "tools/sim/scenario_steps.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/sim/private_network.h"

namespace cascade::sim {

ScenarioSteps::ScenarioSteps(const NetworkPlan& plan,
                             const ProcessLayout& layout,
                             const ScenarioStepsOptions& options,
                             Supervisor* supervisor, RelayProcesses* relays,
                             ControlPlane* control_plane, AdminCalls* admin)
    : plan_(plan),
      layout_(layout),
      options_(options),
      supervisor_(supervisor),
      relays_(relays),
      control_plane_(control_plane),
      admin_(admin) {}

cascade::v1::SimStepResult ScenarioSteps::Execute(
    const cascade::v1::SimStep& step, size_t step_index, absl::Time media_start,
    std::vector<UpstreamSelectionRun>* selections) {
  cascade::v1::SimStepResult result;
  std::string node;
  switch (step.action_case()) {
    case cascade::v1::SimStep::kKill:
    case cascade::v1::SimStep::kRevive:
    case cascade::v1::SimStep::kDrain:
    case cascade::v1::SimStep::kRestore: {
      const std::string& selector = step.has_kill()     ? step.kill()
                                    : step.has_revive() ? step.revive()
                                    : step.has_drain()  ? step.drain()
                                                        : step.restore();
      absl::StatusOr<std::string> id = plan_.Resolve(selector);
      if (!id.ok()) {
        result.set_detail(std::string(id.status().message()));
        return result;
      }
      node = *id;
      result.set_target(node);
      break;
    }
    default:
      break;
  }
  std::string detail;
  bool ok = false;
  const char* standalone_note =
      options_.controller
          ? ""
          : "; relays run standalone, so the media path does not change";
  switch (step.action_case()) {
    case cascade::v1::SimStep::kLossPercent: {
      result.set_action("loss_percent");
      result.set_loss_percent(step.loss_percent());
      absl::Status s = SetRandomLoss(step.loss_percent() / 100);
      ok = s.ok();
      detail = ok ? absl::StrCat(step.loss_percent(), "% loss on every hop")
                  : std::string(s.message());
      break;
    }
    case cascade::v1::SimStep::kKill: {
      result.set_action("kill");
      const PlanRelay* relay = plan_.relay(node);
      absl::Status s = relay == nullptr
                           ? absl::InvalidArgumentError("not a relay")
                           : supervisor_->Kill(relays_->ProcessOf(node));
      ok = s.ok();
      detail = ok ? absl::StrCat("kill -9 of relayd ", node, " (",
                                 relay->sites_below, " sites below)")
                  : std::string(s.message());
      break;
    }
    case cascade::v1::SimStep::kRevive: {
      result.set_action("revive");
      if (plan_.relay(node) == nullptr) {
        detail = "not a relay";
        break;
      }
      // Alone in its process (LayOutProcesses).
      absl::Status s = relays_->Revive(node);
      ok = s.ok();
      detail = ok ? "relayd started again with the same configuration"
                  : std::string(s.message());
      break;
    }
    case cascade::v1::SimStep::kDrain:
    case cascade::v1::SimStep::kRestore: {
      const bool drain = step.has_drain();
      result.set_action(drain ? "drain" : "restore");
      const AdminCalls::Rpc rpc = [&](cascade::v1::Admin::Stub* admin,
                                      grpc::ClientContext* context) {
        cascade::v1::ChangeResponse response;
        if (drain) {
          cascade::v1::DrainNodeRequest request;
          request.set_id(node);
          return admin->DrainNode(context, request, &response);
        }
        cascade::v1::RestoreRequest request;
        request.set_id(node);
        return admin->Restore(context, request, &response);
      };
      ok =
          admin_
              ->Change(step.label(), (drain ? "DrainNode " : "Restore ") + node,
                       rpc, &detail)
              .accepted;
      detail += standalone_note;
      break;
    }
    case cascade::v1::SimStep::kRestartControllerAfterS:
    case cascade::v1::SimStep::kStallLeaderS: {
      const bool kill = step.has_restart_controller_after_s();
      result.set_action(kill ? "restart_controller" : "stall_leader");
      absl::StatusOr<std::string> fault =
          kill ? control_plane_->KillLeader(
                     absl::Seconds(step.restart_controller_after_s()))
               : control_plane_->StallLeader(
                     absl::Seconds(step.stall_leader_s()));
      ok = fault.ok();
      detail = ok ? *fault : std::string(fault.status().message());
      if (ok && control_plane_->on_etcd()) {
        ok = admin_->AwaitTakeover(options_.leader_ttl, plan_.relays.size(),
                                   &detail);
      }
      break;
    }
    case cascade::v1::SimStep::kRotateStreamKey: {
      result.set_action("rotate_stream_key");
      if (!options_.keys_from_controller) {
        // Nothing to rotate (plain RTP, or a key file): not a failure.
        ok = true;
        result.set_skipped(true);
        detail =
            "skipped: the program is not under topologyd's keys (--srtp "
            "in controller mode)";
        break;
      }
      ok = admin_
               ->Change(
                   step.label(), "RotateStreamKey",
                   [](cascade::v1::Admin::Stub* admin,
                      grpc::ClientContext* context) {
                     cascade::v1::ChangeResponse response;
                     return admin->RotateStreamKey(
                         context, cascade::v1::RotateStreamKeyRequest(),
                         &response);
                   },
                   &detail)
               .accepted;
      break;
    }
    case cascade::v1::SimStep::kSelectSites: {
      result.set_action("select_sites");
      ok = SelectSites(step, step_index, media_start, selections, &detail);
      detail += standalone_note;
      break;
    }
    default:
      detail = "step without an action";
      break;
  }
  result.set_ok(ok);
  result.set_detail(detail);
  return result;
}

bool ScenarioSteps::SelectSites(const cascade::v1::SimStep& step,
                                size_t step_index, absl::Time media_start,
                                std::vector<UpstreamSelectionRun>* selections,
                                std::string* detail) {
  const std::vector<std::string> chosen =
      SitesToSelect(plan_, step.select_sites());
  bool ok = !chosen.empty();
  std::string first_detail;
  for (const std::string& site : chosen) {
    std::string call_detail;
    absl::Time called;
    const AdminCalls::ChangeResult change = admin_->Change(
        step.label(), "SelectUpstream " + site,
        [&](cascade::v1::Admin::Stub* admin, grpc::ClientContext* context) {
          cascade::v1::UpstreamRequest request;
          request.set_site(site);
          cascade::v1::ChangeResponse response;
          return admin->SelectUpstream(context, request, &response);
        },
        &call_detail, &called);
    ok &= change.accepted;
    if (first_detail.empty()) first_detail = call_detail;
    UpstreamSelectionRun selection;
    selection.step_index = step_index;
    selection.site = site;
    selection.ssrc = layout_.upstream_ssrc.at(site);
    selection.ok = change.accepted;
    selection.pushed_at_call = change.relays_changed != 0;
    selection.called_unix_ms =
        absl::ToDoubleMilliseconds(called - absl::UnixEpoch());
    selection.at_s = absl::ToDoubleSeconds(called - media_start);
    selections->push_back(std::move(selection));
  }
  *detail = absl::StrCat("selected ", absl::StrJoin(chosen, ", "), ": ",
                         first_detail);
  return ok;
}

}  // namespace cascade::sim
