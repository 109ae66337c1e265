#include "topology/etcd/etcd_store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cascade::topology::etcd {
namespace {

using cascade::v1::Change;
using cascade::v1::ControllerState;
using etcdserverpb::Compare;
using etcdserverpb::RangeResponse;
using etcdserverpb::TxnRequest;
using etcdserverpb::TxnResponse;

void AddRange(
    std::string key, std::string range_end,
    google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>* ops) {
  auto* range = ops->Add()->mutable_request_range();
  range->set_key(std::move(key));
  range->set_range_end(std::move(range_end));
}

void AddPut(std::string key, std::string value,
            google::protobuf::RepeatedPtrField<etcdserverpb::RequestOp>* ops) {
  auto* put = ops->Add()->mutable_request_put();
  put->set_key(std::move(key));
  put->set_value(std::move(value));
}

// The i-th answer of a transaction, which must be a Range.
absl::StatusOr<const RangeResponse*> RangeAt(const TxnResponse& response,
                                             int i) {
  if (i >= response.responses_size() ||
      !response.responses(i).has_response_range()) {
    return absl::InternalError(
        absl::StrCat("etcd transaction answer ", i, " is not a range"));
  }
  return &response.responses(i).response_range();
}

// The value of the only key of `range`, or nullptr if there is none.
const std::string* OnlyValue(const RangeResponse& range) {
  return range.kvs().empty() ? nullptr : &range.kvs(0).value();
}

// etcd refuses a request above its --max-request-bytes (1.5 MiB by
// default) as an invalid argument, or gRPC does as too large a message.
absl::Status ExplainRefusal(absl::Status status, size_t bytes) {
  if (!absl::IsInvalidArgument(status) && !absl::IsResourceExhausted(status)) {
    return status;
  }
  return absl::Status(
      status.code(),
      absl::StrCat(status.message(), " (the write carries ", bytes,
                   " bytes: etcd's --max-request-bytes must exceed the "
                   "largest topology state)"));
}

}  // namespace

EtcdStore::EtcdStore(EtcdClient* client, EtcdStoreOptions options)
    : client_(client), options_(std::move(options)) {}

std::string EtcdStore::ChangeKey(uint64_t sequence) const {
  // Zero-padded so that key order is sequence order.
  return absl::StrFormat("%s%020u", ChangesPrefix(), sequence);
}

void EtcdStore::AddGuards(TxnRequest* txn) const {
  Compare* head = txn->add_compare();
  head->set_key(HeadKey());
  head->set_target(Compare::MOD);
  head->set_result(Compare::EQUAL);
  head->set_mod_revision(head_revision_);
  if (!options_.fence_key.empty()) {
    Compare* fence = txn->add_compare();
    fence->set_key(options_.fence_key);
    fence->set_target(Compare::CREATE);
    fence->set_result(Compare::EQUAL);
    fence->set_create_revision(options_.fence_revision);
  }
}

absl::Status EtcdStore::Refusal(absl::string_view what,
                                const RangeResponse& head,
                                const RangeResponse* fence) const {
  absl::Status refusal = Explain(what, head, fence);
  if (options_.on_refused) options_.on_refused(refusal);
  return refusal;
}

absl::Status EtcdStore::Explain(absl::string_view what,
                                const RangeResponse& head,
                                const RangeResponse* fence) const {
  if (fence != nullptr) {
    if (fence->kvs().empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "fenced: ", what, " refused: leader key ", options_.fence_key,
          " is gone (lease lapsed or revoked); this controller no longer "
          "leads"));
    }
    if (fence->kvs(0).create_revision() != options_.fence_revision) {
      return absl::FailedPreconditionError(absl::StrCat(
          "fenced: ", what, " refused: leader key ", options_.fence_key,
          " now belongs to a leader elected at revision ",
          fence->kvs(0).create_revision(), " (", fence->kvs(0).value(),
          "), not this controller's term at revision ",
          options_.fence_revision));
    }
  }
  const std::string* value = OnlyValue(head);
  return absl::AbortedError(absl::StrCat(
      what,
      " refused: another controller wrote the store since this one read "
      "it (head now at sequence ",
      value == nullptr ? "none" : *value, ", revision ",
      head.kvs().empty() ? 0 : head.kvs(0).mod_revision(),
      "; expected revision ", head_revision_,
      "); recover again before writing"));
}

absl::StatusOr<RecoveredState> EtcdStore::Recover() {
  // One transaction without compares: three reads at one revision.
  TxnRequest txn;
  AddRange(HeadKey(), "", txn.mutable_success());
  AddRange(SnapshotKey(), "", txn.mutable_success());
  AddRange(ChangesPrefix(), PrefixEnd(ChangesPrefix()), txn.mutable_success());
  absl::StatusOr<TxnResponse> response = client_->Txn(txn);
  if (!response.ok()) return response.status();
  absl::StatusOr<const RangeResponse*> head = RangeAt(*response, 0);
  absl::StatusOr<const RangeResponse*> snapshot = RangeAt(*response, 1);
  absl::StatusOr<const RangeResponse*> changes = RangeAt(*response, 2);
  for (const auto* range : {&head, &snapshot, &changes}) {
    if (!range->ok()) return range->status();
  }

  RecoveredState recovered;
  uint64_t head_sequence = 0;
  if (const std::string* value = OnlyValue(**head)) {
    if (!absl::SimpleAtoi(*value, &head_sequence)) {
      return absl::DataLossError(absl::StrCat(
          "etcd key ", HeadKey(), " holds '", *value, "', not a sequence"));
    }
  }
  if (const std::string* value = OnlyValue(**snapshot)) {
    if (!recovered.snapshot.ParseFromString(*value)) {
      return absl::DataLossError(
          absl::StrCat("etcd key ", SnapshotKey(), " does not parse"));
    }
  }
  uint64_t expected = recovered.snapshot.sequence() + 1;
  for (const mvccpb::KeyValue& kv : (*changes)->kvs()) {
    Change change;
    if (!change.ParseFromString(kv.value())) {
      return absl::DataLossError(
          absl::StrCat("etcd key ", kv.key(), " does not parse"));
    }
    if (change.sequence() != expected || kv.key() != ChangeKey(expected)) {
      return absl::DataLossError(absl::StrCat(
          "etcd key ", kv.key(), " holds change ", change.sequence(),
          "; expected change ", expected, " (key ", ChangeKey(expected), ")"));
    }
    recovered.changes.push_back(std::move(change));
    ++expected;
  }
  const uint64_t last = expected - 1;
  if (last != head_sequence) {
    return absl::DataLossError(
        absl::StrCat("etcd key ", HeadKey(), " says sequence ", head_sequence,
                     " but the stored snapshot and changes end at ", last));
  }
  head_revision_ = (*head)->kvs().empty() ? 0 : (*head)->kvs(0).mod_revision();
  last_sequence_ = last;
  records_ = recovered.changes.size();
  recovered_ = true;
  return recovered;
}

absl::Status EtcdStore::Append(const Change& change) {
  if (!recovered_) {
    return absl::FailedPreconditionError("etcd store: Append before Recover");
  }
  const uint64_t sequence = change.sequence();
  if (sequence != last_sequence_ + 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "etcd store: change ", sequence, " does not follow ", last_sequence_));
  }
  const std::string value = change.SerializeAsString();
  TxnRequest txn;
  AddGuards(&txn);
  AddPut(ChangeKey(sequence), value, txn.mutable_success());
  AddPut(HeadKey(), absl::StrCat(sequence), txn.mutable_success());
  AddRange(HeadKey(), "", txn.mutable_failure());
  AddRange(ChangeKey(sequence), "", txn.mutable_failure());
  if (!options_.fence_key.empty()) {
    AddRange(options_.fence_key, "", txn.mutable_failure());
  }
  absl::StatusOr<TxnResponse> response = client_->Txn(txn);
  if (!response.ok()) return ExplainRefusal(response.status(), value.size());
  if (response->succeeded()) {
    head_revision_ = response->header().revision();
  } else {
    absl::StatusOr<const RangeResponse*> head = RangeAt(*response, 0);
    absl::StatusOr<const RangeResponse*> stored = RangeAt(*response, 1);
    if (!head.ok()) return head.status();
    if (!stored.ok()) return stored.status();
    const std::string* head_value = OnlyValue(**head);
    const std::string* stored_value = OnlyValue(**stored);
    // An attempt that timed out on one member and was retried on another
    // may have landed: then the retry finds exactly this change in place.
    const bool ours = head_value != nullptr &&
                      *head_value == absl::StrCat(sequence) &&
                      stored_value != nullptr && *stored_value == value;
    if (!ours) {
      const RangeResponse* fence = nullptr;
      if (!options_.fence_key.empty()) {
        absl::StatusOr<const RangeResponse*> range = RangeAt(*response, 2);
        if (!range.ok()) return range.status();
        fence = *range;
      }
      return Refusal(absl::StrCat("change ", sequence), **head, fence);
    }
    head_revision_ = (*head)->kvs(0).mod_revision();
  }
  last_sequence_ = sequence;
  ++records_;
  return absl::OkStatus();
}

absl::Status EtcdStore::WriteSnapshot(const ControllerState& state) {
  if (!recovered_) {
    return absl::FailedPreconditionError(
        "etcd store: WriteSnapshot before Recover");
  }
  if (state.sequence() != last_sequence_) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd store: snapshot at sequence ", state.sequence(),
                     " does not fold in exactly the changes stored (up to ",
                     last_sequence_, ")"));
  }
  const std::string value = state.SerializeAsString();
  TxnRequest txn;
  AddGuards(&txn);
  AddPut(SnapshotKey(), value, txn.mutable_success());
  auto* clear = txn.add_success()->mutable_request_delete_range();
  clear->set_key(ChangesPrefix());
  clear->set_range_end(PrefixEnd(ChangesPrefix()));
  AddPut(HeadKey(), absl::StrCat(state.sequence()), txn.mutable_success());
  AddRange(HeadKey(), "", txn.mutable_failure());
  AddRange(SnapshotKey(), "", txn.mutable_failure());
  {
    auto* count = txn.add_failure()->mutable_request_range();
    count->set_key(ChangesPrefix());
    count->set_range_end(PrefixEnd(ChangesPrefix()));
    count->set_count_only(true);
  }
  if (!options_.fence_key.empty()) {
    AddRange(options_.fence_key, "", txn.mutable_failure());
  }
  absl::StatusOr<TxnResponse> response = client_->Txn(txn);
  if (!response.ok()) return ExplainRefusal(response.status(), value.size());
  if (response->succeeded()) {
    head_revision_ = response->header().revision();
  } else {
    absl::StatusOr<const RangeResponse*> head = RangeAt(*response, 0);
    absl::StatusOr<const RangeResponse*> snapshot = RangeAt(*response, 1);
    absl::StatusOr<const RangeResponse*> changes = RangeAt(*response, 2);
    for (const auto* range : {&head, &snapshot, &changes}) {
      if (!range->ok()) return range->status();
    }
    const std::string* snapshot_value = OnlyValue(**snapshot);
    // As in Append: a retried attempt may find its own earlier success.
    const bool ours = !(*head)->kvs().empty() && snapshot_value != nullptr &&
                      *snapshot_value == value && (*changes)->count() == 0;
    if (!ours) {
      const RangeResponse* fence = nullptr;
      if (!options_.fence_key.empty()) {
        absl::StatusOr<const RangeResponse*> range = RangeAt(*response, 3);
        if (!range.ok()) return range.status();
        fence = *range;
      }
      return Refusal(absl::StrCat("snapshot at ", state.sequence()), **head,
                     fence);
    }
    head_revision_ = (*head)->kvs(0).mod_revision();
  }
  records_ = 0;
  return absl::OkStatus();
}

}  // namespace cascade::topology::etcd
