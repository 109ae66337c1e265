#include "topology/state.h"

#include <algorithm>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "security/identity.h"
#include "topology/certificate_revocation.h"
#include "topology/stream_keys.h"
#include "topology/topology_file.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;
using cascade::v1::ControllerState;
using cascade::v1::Node;

Node* FindNode(ControllerState* state, const std::string& id) {
  for (Node& node : *state->mutable_topology()->mutable_nodes()) {
    if (node.id() == id) return &node;
  }
  return nullptr;
}

absl::Status NotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("no node \"", id, "\""));
}

// Drops admin entries, pins, selections and keys before a rotation that
// refer to nodes that no longer exist.
void DropDangling(ControllerState* state) {
  absl::flat_hash_set<std::string> ids;
  for (const Node& node : state->topology().nodes()) ids.insert(node.id());
  auto* admin = state->mutable_admin();
  admin->erase(std::remove_if(admin->begin(), admin->end(),
                              [&](const cascade::v1::NodeAdminState& a) {
                                return !ids.contains(a.id());
                              }),
               admin->end());
  for (auto& a : *admin) {
    if (!a.pinned_parent().empty() && !ids.contains(a.pinned_parent())) {
      a.clear_pinned_parent();
    }
  }
  auto* selected = state->mutable_selected_sites();
  selected->erase(std::remove_if(selected->begin(), selected->end(),
                                 [&](const std::string& site) {
                                   return !ids.contains(site);
                                 }),
                  selected->end());
  // A node added again under the same id must not inherit the key before.
  auto* previous = state->mutable_previous_node_keys();
  previous->erase(std::remove_if(previous->begin(), previous->end(),
                                 [&](const cascade::v1::PreviousNodeKey& p) {
                                   return !ids.contains(p.node());
                                 }),
                  previous->end());
}

absl::Status Remove(const std::string& id, ControllerState* state) {
  auto* nodes = state->mutable_topology()->mutable_nodes();
  auto it = std::find_if(nodes->begin(), nodes->end(),
                         [&](const Node& n) { return n.id() == id; });
  if (it == nodes->end()) return NotFound(id);
  for (const Node& node : *nodes) {
    if (node.parent() == id) {
      return absl::FailedPreconditionError(
          absl::StrCat("node \"", id, "\" is the parent of \"", node.id(),
                       "\": move its children first"));
    }
  }
  for (const auto& stream : state->topology().streams()) {
    if (stream.source_node() == id) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node \"", id, "\" is the source of stream \"", stream.id(), "\""));
    }
  }
  nodes->erase(it);
  for (Node& node : *nodes) {
    auto* standbys = node.mutable_standby_parents();
    standbys->erase(std::remove(standbys->begin(), standbys->end(), id),
                    standbys->end());
  }
  DropDangling(state);
  return absl::OkStatus();
}

absl::Status Move(const cascade::v1::MoveNodeRequest& move,
                  ControllerState* state) {
  Node* node = FindNode(state, move.id());
  if (node == nullptr) return NotFound(move.id());
  if (FindNode(state, move.new_parent()) == nullptr) {
    return NotFound(move.new_parent());
  }
  node->set_parent(move.new_parent());
  auto* standbys = node->mutable_standby_parents();
  standbys->erase(
      std::remove(standbys->begin(), standbys->end(), move.new_parent()),
      standbys->end());
  MutableAdmin(state, move.id())->clear_pinned_parent();
  return absl::OkStatus();
}

absl::Status Restore(const cascade::v1::RestoreRequest& restore,
                     ControllerState* state) {
  if (FindNode(state, restore.id()) == nullptr) return NotFound(restore.id());
  cascade::v1::NodeAdminState* admin = MutableAdmin(state, restore.id());
  if (!admin->draining() && !admin->failed()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "node \"", restore.id(), "\" is neither drained nor failed over"));
  }
  admin->set_draining(false);
  admin->set_failed(false);
  return absl::OkStatus();
}

absl::Status Select(const std::string& site, bool selected,
                    ControllerState* state) {
  Node* node = FindNode(state, site);
  if (node == nullptr) return NotFound(site);
  if (node->tier() != cascade::v1::TIER_SITE) {
    return absl::FailedPreconditionError(
        absl::StrCat("node \"", site, "\" is not a site"));
  }
  auto* sites = state->mutable_selected_sites();
  auto it = std::find(sites->begin(), sites->end(), site);
  if (selected && it == sites->end()) *sites->Add() = site;
  if (!selected && it != sites->end()) sites->erase(it);
  return absl::OkStatus();
}

absl::Status RevokeToken(const cascade::v1::RevokeTokenRequest& revoke,
                         ControllerState* state) {
  if (revoke.operator_().empty() == revoke.token_id().empty()) {
    return absl::InvalidArgumentError(
        "revoke the tokens of an operator or one token by its id");
  }
  auto* revoked = state->mutable_revoked_tokens();
  if (!revoke.operator_().empty()) {
    if (absl::Status valid = security::ValidateOperatorName(revoke.operator_());
        !valid.ok()) {
      return valid;
    }
    // One entry per operator: the newest revocation covers the older ones.
    for (auto& entry : *revoked) {
      if (entry.operator_() == revoke.operator_()) {
        entry.set_unix_ms(std::max(entry.unix_ms(), revoke.unix_ms()));
        return absl::OkStatus();
      }
    }
    *revoked->Add() = revoke;
    return absl::OkStatus();
  }
  const std::string& id = revoke.token_id();
  if (id.size() != 32 || !std::all_of(id.begin(), id.end(), [](char c) {
        return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f');
      })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a token id is 32 lowercase hex digits, not \"", id, "\""));
  }
  for (const auto& entry : *revoked) {
    if (entry.token_id() == id) return absl::OkStatus();
  }
  revoked->Add()->set_token_id(id);
  return absl::OkStatus();
}

// The new key first; the one before stays second, so what it signed
// keeps working until the next rotation.
absl::Status RotateEdgeKey(const cascade::v1::RotateEdgeKeyRequest& rotate,
                           ControllerState* state) {
  if (rotate.key().private_key().empty()) {
    return absl::InvalidArgumentError("an edge key rotation without a key");
  }
  auto* keys = state->mutable_edge_keys();
  keys->Add()->CopyFrom(rotate.key());
  for (int i = keys->size() - 1; i > 0; --i) keys->SwapElements(i, i - 1);
  if (keys->size() > kEdgeKeysKept) {
    keys->DeleteSubrange(kEdgeKeysKept, keys->size() - kEdgeKeysKept);
  }
  return absl::OkStatus();
}

// Each named node gets its new key; its key before is kept, with the end
// of its overlap, in previous_node_keys (one entry a node, replaced by its
// next rotation; entries whose overlap ended are pruned).
absl::Status RotateLinkKeys(const cascade::v1::RotateLinkKeysRequest& rotate,
                            ControllerState* state) {
  if (rotate.keys().empty()) {
    return absl::InvalidArgumentError(
        rotate.node().empty() ? "no relay to rotate the link keys of"
                              : "a link key rotation without a key");
  }
  absl::flat_hash_map<absl::string_view, Node*> nodes;
  for (Node& node : *state->mutable_topology()->mutable_nodes()) {
    nodes[node.id()] = &node;
  }
  absl::flat_hash_set<std::string> rotated;
  auto* previous = state->mutable_previous_node_keys();
  for (const cascade::v1::NodeKey& entry : rotate.keys()) {
    auto it = nodes.find(entry.node());
    if (it == nodes.end()) return NotFound(entry.node());
    Node& node = *it->second;
    if (node.tier() == cascade::v1::TIER_SITE || node.plain_endpoint()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "\"", node.id(),
          "\" is a site or a plain endpoint: its link keys are configured "
          "where it runs (topologyd cannot hand it new ones)"));
    }
    if (entry.key().empty()) {
      return absl::InvalidArgumentError("a link key rotation without a key");
    }
    if (!rotated.insert(node.id()).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("node \"", node.id(), "\" rotated twice"));
    }
    cascade::v1::PreviousNodeKey* saved = previous->Add();
    saved->set_node(node.id());
    saved->set_key(node.key());
    saved->set_until_unix_ms(rotate.overlap_until_unix_ms());
    node.set_key(entry.key());
  }
  // The entries just added are at the end; earlier ones of the same nodes,
  // or whose overlap is over, go.
  const int added = rotate.keys_size();
  const int earlier = previous->size() - added;
  int kept = 0;
  for (int i = 0; i < previous->size(); ++i) {
    const cascade::v1::PreviousNodeKey& entry = previous->Get(i);
    const bool keep =
        i >= earlier || (!rotated.contains(entry.node()) &&
                         entry.until_unix_ms() > rotate.unix_ms());
    if (keep) previous->SwapElements(kept++, i);
  }
  previous->DeleteSubrange(kept, previous->size() - kept);
  return absl::OkStatus();
}

// Keeps the newest kAuditTrail records.
void AppendAudit(const Change& change, ControllerState* state) {
  cascade::v1::AuditRecord* record = state->add_audit();
  *record = change.audit();
  record->set_state_sequence(change.sequence());
  auto* audit = state->mutable_audit();
  if (audit->size() > kAuditTrail) {
    audit->DeleteSubrange(0, audit->size() - kAuditTrail);
  }
}

absl::Status ApplyChange(const Change& change, ControllerState* state) {
  switch (change.change_case()) {
    case Change::kApply: {
      *state->mutable_topology() = change.apply().topology();
      DropDangling(state);
      DropOrphanStreamKeys(state);
      return absl::OkStatus();
    }
    case Change::kAdd: {
      if (FindNode(state, change.add().node().id()) != nullptr) {
        return absl::AlreadyExistsError(absl::StrCat(
            "node \"", change.add().node().id(), "\" already exists"));
      }
      *state->mutable_topology()->add_nodes() = change.add().node();
      return absl::OkStatus();
    }
    case Change::kRemove:
      return Remove(change.remove().id(), state);
    case Change::kMove:
      return Move(change.move(), state);
    case Change::kDrain:
      if (FindNode(state, change.drain().id()) == nullptr) {
        return NotFound(change.drain().id());
      }
      MutableAdmin(state, change.drain().id())->set_draining(true);
      return absl::OkStatus();
    case Change::kFailover:
      if (FindNode(state, change.failover().id()) == nullptr) {
        return NotFound(change.failover().id());
      }
      MutableAdmin(state, change.failover().id())->set_failed(true);
      return absl::OkStatus();
    case Change::kRestore:
      return Restore(change.restore(), state);
    case Change::kSelect:
      return Select(change.select().site(), true, state);
    case Change::kRelease:
      return Select(change.release().site(), false, state);
    case Change::kRevokeToken:
      return RevokeToken(change.revoke_token(), state);
    case Change::kRotateEdgeKey:
      return RotateEdgeKey(change.rotate_edge_key(), state);
    case Change::kRotateLinkKeys:
      return RotateLinkKeys(change.rotate_link_keys(), state);
    case Change::kRotateStreamKey:
      return ApplyStreamKeyRotation(change.rotate_stream_key(), state);
    case Change::kRevokeCertificate:
      return ApplyCertificateRevocation(change.revoke_certificate(), state);
    case Change::CHANGE_NOT_SET:
      return absl::OkStatus();
  }
  return absl::InvalidArgumentError("unknown change");
}

}  // namespace

cascade::v1::NodeAdminState* MutableAdmin(ControllerState* state,
                                          const std::string& id) {
  for (auto& admin : *state->mutable_admin()) {
    if (admin.id() == id) return &admin;
  }
  cascade::v1::NodeAdminState* admin = state->add_admin();
  admin->set_id(id);
  return admin;
}

bool ChangesTopology(const Change& change) {
  switch (change.change_case()) {
    case Change::kApply:
    case Change::kAdd:
    case Change::kRemove:
    case Change::kMove:
    case Change::kRotateLinkKeys:
      return true;
    default:
      return false;
  }
}

absl::Status ApplyChangeToState(const Change& change, ControllerState* state,
                                bool validated) {
  absl::Status status = ApplyChange(change, state);
  if (!status.ok()) return status;
  for (const cascade::v1::Pin& pin : change.pins()) {
    if (FindNode(state, pin.node()) == nullptr) return NotFound(pin.node());
    MutableAdmin(state, pin.node())->set_pinned_parent(pin.parent());
  }
  // Operators' flags, pins, records and keys leave the topology as it was:
  // not validated again (validating a million nodes takes seconds).
  if (!validated && ChangesTopology(change)) {
    status = ValidateTopology(state->topology(), change.has_apply()
                                                     ? change.apply().source()
                                                     : std::string());
    if (!status.ok()) return status;
  }
  if (change.has_audit()) AppendAudit(change, state);
  state->set_sequence(change.sequence());
  return absl::OkStatus();
}

bool TokenRevoked(const ControllerState& state,
                  const std::string& operator_name, const std::string& id,
                  absl::Time issued) {
  for (const auto& entry : state.revoked_tokens()) {
    if (entry.token_id().empty()
            ? entry.operator_() == operator_name &&
                  absl::ToUnixMillis(issued) <= entry.unix_ms()
            : entry.token_id() == id) {
      return true;
    }
  }
  return false;
}

}  // namespace cascade::topology
