// The controller's edge tokens: the key that signs them (replicated state,
// rotated by a change, its public halves in every relay's assignment) and
// the mint that picks a site's relay and stream from the current plan.
#include <glog/logging.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "control/edge_token.h"
#include "control/signature.h"
#include "topology/controller.h"

namespace cascade::topology {
namespace {

using cascade::v1::Change;
using cascade::v1::ControllerState;
using cascade::v1::MintEdgeTokenRequest;
using cascade::v1::MintEdgeTokenResponse;
using cascade::v1::Node;
using cascade::v1::Stream;

// `value` as it may stand in a URL's fragment parameter: RFC 3986's
// unreserved characters as they are, every other byte %XX (what the page's
// URLSearchParams decodes).
std::string FragmentValue(absl::string_view value) {
  std::string out;
  for (const char c : value) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      absl::StrAppend(
          &out, "%", absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  return out;
}

// The node's upstream stream: where its own camera goes up the tree.
const Stream* UpstreamOf(const ControllerState& state, const std::string& id) {
  for (const Stream& stream : state.topology().streams()) {
    if (stream.direction() == cascade::v1::DIRECTION_UPSTREAM &&
        stream.source_node() == id) {
      return &stream;
    }
  }
  return nullptr;
}

// The other roots that take the center's program feed beside `relay`: every
// national relay with no parent and an edge, whatever its role or state (a
// relay that is down gets the feed again when it comes back).
std::vector<const Node*> MirrorRelays(const ControllerState& state,
                                      const std::string& relay) {
  std::vector<const Node*> mirrors;
  for (const Node& node : state.topology().nodes()) {
    if (node.tier() == cascade::v1::TIER_NATIONAL && node.parent().empty() &&
        !node.edge_address().empty() && node.id() != relay) {
      mirrors.push_back(&node);
    }
  }
  return mirrors;
}

}  // namespace

cascade::v1::EdgeKey Controller::NewEdgeKey(absl::Time now) {
  cascade::v1::EdgeKey key;
  absl::StatusOr<control::KeyPtr> made = control::NewEcdsaKey();
  absl::StatusOr<std::string> der =
      made.ok() ? control::PrivateKeyDer(made->get()) : made.status();
  if (!der.ok()) {
    LOG(ERROR) << "cannot make an edge key: " << der.status();
    return key;
  }
  key.set_private_key(*std::move(der));
  key.set_created_unix_ms(absl::ToUnixMillis(now));
  return key;
}

void Controller::RefreshEdgeKeysLocked() {
  edge_public_keys_.clear();
  for (const cascade::v1::EdgeKey& key : state_.edge_keys()) {
    absl::StatusOr<control::KeyPtr> parsed =
        control::PrivateKeyFromDer(key.private_key());
    absl::StatusOr<std::string> der =
        parsed.ok() ? control::PublicKeyDer(parsed->get()) : parsed.status();
    if (!der.ok()) {
      // Only a key the controller made gets into the state.
      LOG(ERROR) << "edge key of " << key.created_unix_ms()
                 << " is unusable: " << der.status();
      continue;
    }
    edge_public_keys_.push_back(*std::move(der));
  }
}

int Controller::RootRelayLocked() const {
  const auto& nodes = state_.topology().nodes();
  int fallback = -1;
  for (int i = 0; i < nodes.size(); ++i) {
    if (nodes[i].tier() != cascade::v1::TIER_NATIONAL ||
        !nodes[i].parent().empty()) {
      continue;
    }
    const cascade::v1::NodeStatus status = StatusLocked(i);
    const bool usable = status == cascade::v1::STATUS_UP ||
                        status == cascade::v1::STATUS_UNKNOWN;
    if (usable && nodes[i].role() != cascade::v1::ROLE_STANDBY) return i;
    if (fallback < 0) fallback = i;
  }
  return fallback;
}

absl::StatusOr<Controller::EdgeTarget> Controller::EdgeTargetLocked(
    const MintEdgeTokenRequest& request) const {
  const auto& nodes = state_.topology().nodes();
  int site = -1;
  if (!request.node().empty()) {
    auto it = index_.find(request.node());
    if (it == index_.end()) {
      return absl::NotFoundError(
          absl::StrCat("no node \"", request.node(), "\""));
    }
    site = it->second;
    if (nodes[site].tier() != cascade::v1::TIER_SITE) {
      return absl::FailedPreconditionError(absl::StrCat(
          "node \"", request.node(),
          "\" is not a site: edge URLs are for sites and the center"));
    }
  }
  EdgeTarget target;
  int relay = -1;
  const Stream* stream = nullptr;
  // The program: what every site watches and the center publishes.
  auto program = [&]() -> absl::Status {
    int count = 0;
    for (const Stream& s : state_.topology().streams()) {
      if (s.direction() != cascade::v1::DIRECTION_DOWNSTREAM) continue;
      if (count++ == 0) stream = &s;
    }
    if (stream == nullptr) {
      return absl::FailedPreconditionError(
          "the topology has no downstream stream");
    }
    if (count > 1) {
      target.note = absl::StrCat(
          count, " downstream streams: took the first, \"", stream->id(), "\"");
    }
    return absl::OkStatus();
  };
  auto upstream = [&]() -> absl::Status {
    stream = UpstreamOf(state_, nodes[site].id());
    if (stream != nullptr) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "site \"", nodes[site].id(),
        "\" has no upstream stream (a DIRECTION_UPSTREAM stream with "
        "source_node \"",
        nodes[site].id(), "\")"));
  };
  if (request.center()) {
    target.holder = "center";
    if (request.publish() && site >= 0) {
      return absl::InvalidArgumentError(
          "the center publishes the program at the national relay: give no "
          "site");
    }
    relay = RootRelayLocked();
    if (relay < 0) {
      return absl::FailedPreconditionError(
          "the topology has no national relay");
    }
    // It publishes the program, watches it (no site: the return of what it
    // sends, as every site sees it), or watches a site's upstream stream.
    absl::Status found = request.publish() || site < 0 ? program() : upstream();
    if (!found.ok()) return found;
  } else {
    if (site < 0) {
      return absl::InvalidArgumentError("give a site, or the center");
    }
    target.holder = nodes[site].id();
    if (parents_[site].empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("site \"", nodes[site].id(),
                       "\" has no active parent (no usable relay with room)"));
    }
    relay = parents_[site][0];
    absl::Status found = request.publish() ? upstream() : program();
    if (!found.ok()) return found;
  }
  target.relay = nodes[relay].id();
  target.edge_address = nodes[relay].edge_address();
  target.stream = stream->id();
  if (target.edge_address.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "relay \"", target.relay,
        "\" has no edge_address: set edge_address (HOST:PORT of its HTTPS "
        "edge) on it in the topology"));
  }
  return target;
}

void Controller::MintEdgeTokenAsync(const MintEdgeTokenRequest& request,
                                    cascade::v1::AuditRecord audit,
                                    MintDone done) {
  // OK once queued: `done` then gets the outcome from the pipeline.
  absl::Status queued = [&]() -> absl::Status {
    const absl::Duration ttl = request.ttl_ms() == 0
                                   ? kDefaultEdgeTokenTtl
                                   : absl::Milliseconds(request.ttl_ms());
    if (ttl <= absl::ZeroDuration() || ttl > control::kMaxEdgeTokenTtl) {
      return absl::InvalidArgumentError(
          absl::StrCat("a token's lifetime is positive and at most ",
                       absl::FormatDuration(control::kMaxEdgeTokenTtl),
                       ", not ", absl::FormatDuration(ttl)));
    }
    absl::MutexLock lock(&mu_);
    absl::StatusOr<EdgeTarget> target = EdgeTargetLocked(request);
    if (!target.ok()) return target.status();
    // The first mint makes the first key: a change of the controller's own,
    // decided (and journaled) before the mint's audit record.
    if (decided_.edge_keys().empty()) {
      auto commit = std::make_unique<Commit>();
      commit->change.mutable_rotate_edge_key();
      if (absl::Status decided = DecideLocked(&commit); !decided.ok()) {
        return decided;
      }
    }
    absl::StatusOr<control::KeyPtr> key =
        control::PrivateKeyFromDer(decided_.edge_keys(0).private_key());
    if (!key.ok()) return key.status();

    control::EdgeToken token;
    token.stream = target->stream;
    token.action = request.publish() ? control::EdgeAction::kPublish
                                     : control::EdgeAction::kWatch;
    token.issued = clock_->Now();
    token.expires = token.issued + ttl;
    token.holder = target->holder;
    // `token` for `relay` under a fresh id: the signed text and the id.
    auto mint = [&](const std::string& relay)
        -> absl::StatusOr<std::pair<std::string, std::string>> {
      absl::StatusOr<std::string> id = control::RandomTokenId();
      if (!id.ok()) return id.status();
      token.relay = relay;
      token.id = *id;
      absl::StatusOr<std::string> text =
          control::MintEdgeToken(key->get(), token);
      if (!text.ok()) return text.status();
      return std::make_pair(*std::move(text), *std::move(id));
    };
    absl::StatusOr<std::pair<std::string, std::string>> minted =
        mint(target->relay);
    if (!minted.ok()) return minted.status();

    MintEdgeTokenResponse response;
    const absl::string_view action = control::EdgeActionName(token.action);
    response.set_token(minted->first);
    response.set_relay(target->relay);
    response.set_edge_address(target->edge_address);
    response.set_stream(target->stream);
    response.set_expires_unix_ms(absl::ToUnixMillis(token.expires));
    response.set_token_id(minted->second);
    response.set_note(target->note);
    // The fragment never reaches a server's logs; the edge's page reads it.
    std::string url =
        absl::StrCat("https://", target->edge_address, "/", action,
                     "#stream=", FragmentValue(target->stream),
                     "&token=", FragmentValue(minted->first));
    std::string tokens = absl::StrCat("token ", minted->second);
    // The center's program feed also goes to the other roots (the standby
    // national relay), so each has the program without a failover above it.
    if (request.center() && request.publish()) {
      for (const Node* relay : MirrorRelays(state_, target->relay)) {
        absl::StatusOr<std::pair<std::string, std::string>> mirrored =
            mint(relay->id());
        if (!mirrored.ok()) return mirrored.status();
        MintEdgeTokenResponse::Mirror* mirror = response.add_mirrors();
        mirror->set_relay(relay->id());
        mirror->set_edge_address(relay->edge_address());
        mirror->set_token(mirrored->first);
        mirror->set_token_id(mirrored->second);
        absl::StrAppend(&url, "&mirror=", FragmentValue(relay->edge_address()),
                        "&mirror_token=", FragmentValue(mirrored->first));
        absl::StrAppend(&tokens, "; also at ", relay->id(), ", token ",
                        mirrored->second);
      }
    }
    response.set_url(std::move(url));

    // Who minted what for whom: an audit record of its own, the tokens
    // handed out only once it is durable.
    audit.set_target(
        absl::StrCat(action, " ", target->stream, " at ", target->relay,
                     " for ", target->holder, " until ",
                     absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", token.expires,
                                      absl::UTCTimeZone()),
                     " (", tokens, ")"));
    auto commit = std::make_unique<Commit>();
    *commit->change.mutable_audit() = std::move(audit);
    commit->done = [done, response](ChangeResult result) {
      if (!result.ok()) {
        done(result.status());
      } else {
        done(response);
      }
    };
    return DecideLocked(&commit);
  }();
  if (!queued.ok()) done(queued);
}

MintResult Controller::MintEdgeToken(const MintEdgeTokenRequest& request,
                                     cascade::v1::AuditRecord audit) {
  MintResult result;
  absl::Notification minted;
  MintEdgeTokenAsync(request, std::move(audit), [&](MintResult outcome) {
    result = std::move(outcome);
    minted.Notify();
  });
  minted.WaitForNotification();
  return result;
}

}  // namespace cascade::topology
