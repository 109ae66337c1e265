#include "webrtc/ice/ice_lite.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "webrtc/ice/stun.h"

namespace cascade::ice {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr absl::string_view kLocalUfrag = "abcd1234";
constexpr absl::string_view kLocalPwd = "Q7fz+/k2P0aXbYc9dEeFgHhI";
constexpr absl::string_view kRemoteUfrag = "remoteUF";
constexpr absl::string_view kUsername = "abcd1234:remoteUF";

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);
const TransportAddress kBrowser = TransportAddress::V4(0xC0A80002, 50000);
const TransportAddress kOther = TransportAddress::V4(0x0A000007, 40000);

// A connectivity check as a browser sends it (RFC 8445 7.2.2, 7.2.4).
struct Check {
  std::string username = std::string(kUsername);
  std::string pwd = std::string(kLocalPwd);
  bool use_candidate = false;
  bool controlled = false;  // ICE-CONTROLLED instead of ICE-CONTROLLING
  std::optional<uint16_t> unknown;
  bool username_attr = true;
  bool integrity = true;
  bool fingerprint = true;
  uint8_t id = 1;
  StunClass cls = StunClass::kRequest;
  uint16_t method = kBindingMethod;
};

Bytes Build(const Check& c) {
  Bytes out(300);
  TransactionId id{};
  id.fill(c.id);
  StunBuilder b(absl::MakeSpan(out), c.method, c.cls, id);
  if (c.username_attr) b.AddUsername(c.username);
  b.AddPriority(0x6e0001ff);
  if (c.controlled) {
    b.AddIceControlled(42);
  } else {
    b.AddIceControlling(42);
  }
  if (c.use_candidate) b.AddUseCandidate();
  if (c.unknown) b.AddRaw(*c.unknown, {});
  if (c.integrity) b.AddMessageIntegrity(c.pwd);
  if (c.fingerprint) b.AddFingerprint();
  out.resize(b.Finish());
  EXPECT_FALSE(out.empty());
  return out;
}

IceLite MakeAgent() {
  IceLite::Options options;
  options.local = {std::string(kLocalUfrag), std::string(kLocalPwd)};
  options.remote_ufrag = std::string(kRemoteUfrag);
  absl::StatusOr<IceLite> agent = IceLite::Create(options);
  EXPECT_TRUE(agent.ok()) << agent.status();
  return *std::move(agent);
}

// Feeds one datagram; checks the invariant that only a valid check gets a
// success response and that an error response is never larger than the
// request. Returns the reply's bytes.
struct Fed {
  IceOutcome outcome;
  Bytes reply;
};
Fed Feed(IceLite& agent, const Bytes& datagram, const TransportAddress& from,
         absl::Time now) {
  Bytes out(IceLite::kMaxReplySize);
  const IceLite::Reply reply =
      agent.OnStun(datagram, from, now, absl::MakeSpan(out));
  out.resize(reply.size);
  if (!out.empty()) {
    StunMessage m;
    EXPECT_EQ(ParseStun(out, &m), StunError::kOk);
    EXPECT_TRUE(FingerprintValid(m));
    if (reply.outcome == IceOutcome::kAnswered) {
      EXPECT_EQ(m.cls, StunClass::kSuccess);
    } else {
      EXPECT_EQ(m.cls, StunClass::kError);
      EXPECT_LE(out.size(), datagram.size());
      EXPECT_FALSE(m.xor_mapped_address.has_value());
    }
  }
  return {reply.outcome, out};
}

StunMessage Parsed(const Bytes& bytes) {
  StunMessage m;
  EXPECT_EQ(ParseStun(bytes, &m), StunError::kOk);
  return m;
}

TEST(IceLiteTest, AnswersAValidCheckAndSelectsItsSource) {
  IceLite agent = MakeAgent();
  EXPECT_FALSE(agent.selected().has_value());
  const Bytes request = Build({});
  const Fed fed = Feed(agent, request, kBrowser, kT0);
  ASSERT_EQ(fed.outcome, IceOutcome::kAnswered);
  const StunMessage response = Parsed(fed.reply);
  EXPECT_EQ(response.transaction_id, Parsed(request).transaction_id);
  EXPECT_EQ(response.xor_mapped_address, kBrowser);
  EXPECT_TRUE(IntegrityValid(response, kLocalPwd));
  EXPECT_FALSE(IntegrityValid(response, "Q7fz+/k2P0aXbYc9dEeFgHhJ"));
  EXPECT_TRUE(agent.IsValidated(kBrowser));
  EXPECT_FALSE(agent.IsValidated(kOther));
  EXPECT_EQ(agent.selected(), kBrowser);
  EXPECT_EQ(agent.last_consent(), kT0);
  EXPECT_EQ(agent.counters().addresses_validated, 1u);
  EXPECT_EQ(
      agent.counters().outcomes[static_cast<size_t>(IceOutcome::kAnswered)],
      1u);
}

TEST(IceLiteTest, AnswersIpv6Sources) {
  IceLite agent = MakeAgent();
  const TransportAddress v6 = TransportAddress::V6(
      {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 443);
  const Fed fed = Feed(agent, Build({}), v6, kT0);
  ASSERT_EQ(fed.outcome, IceOutcome::kAnswered);
  EXPECT_EQ(Parsed(fed.reply).xor_mapped_address, v6);
  EXPECT_EQ(agent.selected(), v6);
}

// RFC 8489 9.1.3: a username not valid here gets a 401, unsigned, no larger
// than the request; the source is not validated and gets nothing else.
TEST(IceLiteTest, WrongUsernameGets401Only) {
  IceLite agent = MakeAgent();
  for (const std::string username :
       {"abcd1234:otherUF", "wxyz1234:remoteUF", "remoteUF:abcd1234",
        "abcd1234", "abcd1234:remoteUF:", ""}) {
    Check check;
    check.username = username;
    const Bytes request = Build(check);
    const Fed fed = Feed(agent, request, kOther, kT0);
    EXPECT_EQ(fed.outcome, IceOutcome::kWrongUsername) << username;
    ASSERT_FALSE(fed.reply.empty()) << username;
    const StunMessage m = Parsed(fed.reply);
    EXPECT_EQ(m.error_code->code, 401);
    EXPECT_FALSE(m.has_integrity());
    EXPECT_EQ(m.transaction_id, Parsed(request).transaction_id);
  }
  EXPECT_FALSE(agent.IsValidated(kOther));
  EXPECT_FALSE(agent.selected().has_value());
  EXPECT_TRUE(agent.ConsentExpired(kT0));
  EXPECT_EQ(agent.counters().addresses_validated, 0u);
  EXPECT_EQ(agent.counters()
                .outcomes[static_cast<size_t>(IceOutcome::kWrongUsername)],
            6u);
}

TEST(IceLiteTest, WrongPasswordOrFlippedIntegrityGets401) {
  IceLite agent = MakeAgent();
  Check check;
  check.pwd = "Q7fz+/k2P0aXbYc9dEeFgHhJ";  // last character differs
  Fed fed = Feed(agent, Build(check), kOther, kT0);
  EXPECT_EQ(fed.outcome, IceOutcome::kBadIntegrity);
  EXPECT_EQ(Parsed(fed.reply).error_code->code, 401);

  // One bit of a correct HMAC flipped, FINGERPRINT computed afterwards so
  // that only the integrity can tell.
  for (size_t bit = 0; bit < 8 * kHmacSha1Size; ++bit) {
    Bytes out(300);
    StunBuilder b(absl::MakeSpan(out), kBindingMethod, StunClass::kRequest,
                  TransactionId{});
    b.AddUsername(kUsername);
    b.AddMessageIntegrity(kLocalPwd);
    const size_t hmac_at = 20 + 4 + 20 + 4;  // after USERNAME (17 -> 20)
    out[hmac_at + bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    b.AddFingerprint();
    out.resize(b.Finish());
    fed = Feed(agent, out, kOther, kT0);
    EXPECT_EQ(fed.outcome, IceOutcome::kBadIntegrity) << bit;
  }
  EXPECT_FALSE(agent.IsValidated(kOther));
  EXPECT_FALSE(agent.selected().has_value());
}

// No single-bit change of a valid check is answered with success or
// validates anything.
TEST(IceLiteTest, NoFlippedBitPasses) {
  IceLite agent = MakeAgent();
  const Bytes valid = Build({});
  for (size_t bit = 0; bit < 8 * valid.size(); ++bit) {
    Bytes bytes = valid;
    bytes[bit / 8] ^= static_cast<uint8_t>(1 << (bit % 8));
    EXPECT_NE(Feed(agent, bytes, kBrowser, kT0).outcome, IceOutcome::kAnswered)
        << bit;
  }
  EXPECT_FALSE(agent.IsValidated(kBrowser));
  EXPECT_EQ(agent.counters().addresses_validated, 0u);
  EXPECT_EQ(Feed(agent, valid, kBrowser, kT0).outcome, IceOutcome::kAnswered);
}

TEST(IceLiteTest, FingerprintMissingOrWrongIsSilent) {
  IceLite agent = MakeAgent();
  Check check;
  check.fingerprint = false;
  Fed fed = Feed(agent, Build(check), kBrowser, kT0);
  EXPECT_EQ(fed.outcome, IceOutcome::kNoFingerprint);
  EXPECT_TRUE(fed.reply.empty());

  Bytes bad = Build({});
  bad.back() ^= 0x01;
  fed = Feed(agent, bad, kBrowser, kT0);
  EXPECT_EQ(fed.outcome, IceOutcome::kBadFingerprint);
  EXPECT_TRUE(fed.reply.empty());
  EXPECT_FALSE(agent.IsValidated(kBrowser));
}

TEST(IceLiteTest, MissingCredentialsGet400OnlyWhenNoLarger) {
  IceLite agent = MakeAgent();
  Check no_integrity;
  no_integrity.integrity = false;
  Fed fed = Feed(agent, Build(no_integrity), kOther, kT0);
  EXPECT_EQ(fed.outcome, IceOutcome::kMissingCredentials);
  ASSERT_FALSE(fed.reply.empty());
  EXPECT_EQ(Parsed(fed.reply).error_code->code, 400);

  // A bare request with a fingerprint (28 bytes): a 400 (48) would be larger.
  Bytes bare(100);
  StunBuilder b(absl::MakeSpan(bare), kBindingMethod, StunClass::kRequest,
                TransactionId{});
  b.AddFingerprint();
  bare.resize(b.Finish());
  fed = Feed(agent, bare, kOther, kT0);
  EXPECT_EQ(fed.outcome, IceOutcome::kMissingCredentials);
  EXPECT_TRUE(fed.reply.empty());
  EXPECT_EQ(agent.counters().replies_suppressed, 1u);
  EXPECT_EQ(agent.counters().error_responses, 1u);
  EXPECT_FALSE(agent.IsValidated(kOther));
}

TEST(IceLiteTest, UnknownRequiredAttributeGets420) {
  IceLite agent = MakeAgent();
  Check check;
  check.unknown = 0x7ABC;
  const Fed fed = Feed(agent, Build(check), kBrowser, kT0);
  EXPECT_EQ(fed.outcome, IceOutcome::kUnknownAttributes);
  const StunMessage m = Parsed(fed.reply);
  EXPECT_EQ(m.error_code->code, 420);
  EXPECT_TRUE(IntegrityValid(m, kLocalPwd));
  EXPECT_FALSE(agent.IsValidated(kBrowser));

  check.unknown = 0xC057;  // comprehension-optional: answered
  EXPECT_EQ(Feed(agent, Build(check), kBrowser, kT0).outcome,
            IceOutcome::kAnswered);
}

TEST(IceLiteTest, ControlledPeerGets487) {
  IceLite agent = MakeAgent();
  Check check;
  check.controlled = true;
  const Fed fed = Feed(agent, Build(check), kBrowser, kT0);
  EXPECT_EQ(fed.outcome, IceOutcome::kRoleConflict);
  const StunMessage m = Parsed(fed.reply);
  EXPECT_EQ(m.error_code->code, 487);
  EXPECT_TRUE(IntegrityValid(m, kLocalPwd));
  EXPECT_FALSE(agent.IsValidated(kBrowser));
}

TEST(IceLiteTest, DropsWhatIsNotARequest) {
  IceLite agent = MakeAgent();
  Check indication;
  indication.cls = StunClass::kIndication;
  EXPECT_EQ(Feed(agent, Build(indication), kBrowser, kT0).outcome,
            IceOutcome::kIndication);
  Check response;
  response.cls = StunClass::kSuccess;
  EXPECT_EQ(Feed(agent, Build(response), kBrowser, kT0).outcome,
            IceOutcome::kUnexpectedClass);
  Check allocate;
  allocate.method = 0x003;  // TURN Allocate
  EXPECT_EQ(Feed(agent, Build(allocate), kBrowser, kT0).outcome,
            IceOutcome::kNotBinding);
  const Bytes rtp = {0x80, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(Feed(agent, rtp, kBrowser, kT0).outcome, IceOutcome::kNotStun);
  EXPECT_EQ(
      agent.counters().parse_errors[static_cast<size_t>(StunError::kTooShort)],
      1u);
  EXPECT_FALSE(agent.IsValidated(kBrowser));
  EXPECT_EQ(agent.counters().error_responses, 0u);
}

TEST(IceLiteTest, NominationSelects) {
  IceLite agent = MakeAgent();
  ASSERT_EQ(Feed(agent, Build({}), kBrowser, kT0).outcome,
            IceOutcome::kAnswered);
  ASSERT_EQ(Feed(agent, Build({}), kOther, kT0).outcome, IceOutcome::kAnswered);
  EXPECT_EQ(agent.selected(), kBrowser);  // the first validated
  Check nominate;
  nominate.use_candidate = true;
  ASSERT_EQ(Feed(agent, Build(nominate), kOther, kT0).outcome,
            IceOutcome::kAnswered);
  EXPECT_EQ(agent.selected(), kOther);  // the nominated one
  ASSERT_EQ(Feed(agent, Build({}), kBrowser, kT0).outcome,
            IceOutcome::kAnswered);
  EXPECT_EQ(agent.selected(), kOther);
  EXPECT_EQ(agent.counters().nominations, 1u);
  EXPECT_EQ(agent.counters().selection_changes, 2u);
}

TEST(IceLiteTest, ConsentExpiresThirtySecondsAfterTheLastValidCheck) {
  IceLite agent = MakeAgent();
  EXPECT_TRUE(agent.ConsentExpired(kT0));  // nothing checked yet
  ASSERT_EQ(Feed(agent, Build({}), kBrowser, kT0).outcome,
            IceOutcome::kAnswered);
  EXPECT_FALSE(agent.ConsentExpired(kT0 + absl::Seconds(29)));
  EXPECT_TRUE(agent.ConsentExpired(kT0 + absl::Seconds(30)));

  // A valid check refreshes; an invalid one and one from another address
  // (not selected) do not.
  ASSERT_EQ(Feed(agent, Build({}), kBrowser, kT0 + absl::Seconds(20)).outcome,
            IceOutcome::kAnswered);
  Check wrong;
  wrong.pwd = "Q7fz+/k2P0aXbYc9dEeFgHhJ";
  Feed(agent, Build(wrong), kBrowser, kT0 + absl::Seconds(45));
  Feed(agent, Build({}), kOther, kT0 + absl::Seconds(45));
  EXPECT_EQ(agent.last_consent(), kT0 + absl::Seconds(20));
  EXPECT_FALSE(agent.ConsentExpired(kT0 + absl::Seconds(49)));
  EXPECT_TRUE(agent.ConsentExpired(kT0 + absl::Seconds(50)));
}

TEST(IceLiteTest, ForgetsTheOldestUnselectedAddressWhenFull) {
  IceLite agent = MakeAgent();
  std::vector<TransportAddress> addresses;
  for (uint16_t i = 0; i <= IceLite::kMaxAddresses; ++i) {
    addresses.push_back(TransportAddress::V4(0x0A000001, 1000 + i));
    ASSERT_EQ(Feed(agent, Build({}), addresses.back(), kT0 + absl::Seconds(i))
                  .outcome,
              IceOutcome::kAnswered);
  }
  EXPECT_TRUE(agent.IsValidated(addresses[0]));  // selected: kept
  EXPECT_FALSE(agent.IsValidated(addresses[1]));
  for (size_t i = 2; i < addresses.size(); ++i) {
    EXPECT_TRUE(agent.IsValidated(addresses[i])) << i;
  }
  EXPECT_EQ(agent.selected(), addresses[0]);
  EXPECT_EQ(agent.counters().addresses_evicted, 1u);
}

TEST(IceLiteTest, RandomCredentialsAreIceCharsOfTheRightLength) {
  absl::StatusOr<IceCredentials> a = RandomIceCredentials();
  absl::StatusOr<IceCredentials> b = RandomIceCredentials();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ufrag.size(), kLocalUfragSize);
  EXPECT_EQ(a->pwd.size(), kLocalPwdSize);
  EXPECT_TRUE(ValidateUfrag(a->ufrag).ok());
  EXPECT_TRUE(ValidatePwd(a->pwd).ok());
  EXPECT_NE(a->pwd, b->pwd);
}

TEST(IceLiteTest, CreateRefusesBadCredentials) {
  IceLite::Options options;
  options.local = {"abcd", std::string(22, 'p')};
  options.remote_ufrag = "wxyz";
  EXPECT_TRUE(IceLite::Create(options).ok());
  IceLite::Options bad = options;
  bad.local.ufrag = "abc";
  EXPECT_FALSE(IceLite::Create(bad).ok());
  bad = options;
  bad.local.pwd = std::string(21, 'p');
  EXPECT_FALSE(IceLite::Create(bad).ok());
  bad = options;
  bad.remote_ufrag = "wx:z";
  EXPECT_FALSE(IceLite::Create(bad).ok());
  bad = options;
  bad.local.pwd = std::string(22, 'p') + "=";
  EXPECT_FALSE(IceLite::Create(bad).ok());
  bad = options;
  bad.consent_lifetime = absl::ZeroDuration();
  EXPECT_FALSE(IceLite::Create(bad).ok());
}

TEST(IceLiteTest, RecipientUfragPicksTheSession) {
  EXPECT_EQ(RecipientUfrag(Build({})), kLocalUfrag);
  Check no_colon;
  no_colon.username = "abcd1234";
  EXPECT_FALSE(RecipientUfrag(Build(no_colon)).has_value());
  Check no_username;
  no_username.username_attr = false;
  EXPECT_FALSE(RecipientUfrag(Build(no_username)).has_value());
  Check response;
  response.cls = StunClass::kSuccess;
  EXPECT_FALSE(RecipientUfrag(Build(response)).has_value());
  EXPECT_FALSE(RecipientUfrag(Bytes{0x80, 0x60, 0, 1}).has_value());
}

TEST(IceLiteTest, OutcomeNames) {
  EXPECT_EQ(OutcomeName(IceOutcome::kAnswered), "answered");
  EXPECT_EQ(OutcomeName(IceOutcome::kWrongUsername), "wrong_username");
  EXPECT_EQ(OutcomeName(IceOutcome::kRoleConflict), "role_conflict");
}

}  // namespace
}  // namespace cascade::ice
