#include "tools/impair/impairment.h"

#include <gtest/gtest.h>

#include "tools/impair/socket_address.h"

namespace cascade {
namespace {

TEST(ImpairerTest, DefaultsPassEverythingAtOnce) {
  Impairer impairer(ImpairmentOptions{}, 1);
  for (int i = 0; i < 1000; ++i) {
    const Verdict verdict = impairer.Next();
    ASSERT_FALSE(verdict.lost);
    ASSERT_FALSE(verdict.hold);
    ASSERT_EQ(verdict.copies, 1);
    ASSERT_EQ(verdict.delay, absl::ZeroDuration());
  }
}

TEST(ImpairerTest, SameSeedSameVerdicts) {
  ImpairmentOptions options;
  options.loss = 0.3;
  options.duplicate = 0.2;
  options.jitter = absl::Milliseconds(5);
  Impairer a(options, 42), b(options, 42), c(options, 43);
  int differences = 0;
  for (int i = 0; i < 1000; ++i) {
    const Verdict va = a.Next(), vb = b.Next(), vc = c.Next();
    ASSERT_EQ(va.lost, vb.lost);
    ASSERT_EQ(va.copies, vb.copies);
    ASSERT_EQ(va.delay, vb.delay);
    if (va.lost != vc.lost) ++differences;
  }
  EXPECT_GT(differences, 100);
}

TEST(ImpairerTest, CertainLossLosesEverything) {
  ImpairmentOptions options;
  options.loss = 1;
  Impairer impairer(options, 3);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(impairer.Next().lost);
}

TEST(ImpairerTest, JitterStaysWithinItsWindowAndNeverNegative) {
  ImpairmentOptions options;
  options.delay = absl::Milliseconds(2);
  options.jitter = absl::Milliseconds(5);
  Impairer impairer(options, 9);
  bool saw_zero = false;
  for (int i = 0; i < 2000; ++i) {
    const absl::Duration delay = impairer.DrawDelay();
    ASSERT_GE(delay, absl::ZeroDuration());
    ASSERT_LE(delay, absl::Milliseconds(7));
    saw_zero |= delay == absl::ZeroDuration();
  }
  EXPECT_TRUE(saw_zero);  // delay - jitter < 0 clamps to zero
}

TEST(ValidateImpairmentTest, NamesTheBadField) {
  ImpairmentOptions options;
  EXPECT_TRUE(ValidateImpairment(options).ok());
  options.loss = -0.1;
  EXPECT_NE(ValidateImpairment(options).message().find("loss"),
            absl::string_view::npos);
  options.loss = 0;
  options.reorder = 2;
  EXPECT_NE(ValidateImpairment(options).message().find("reorder"),
            absl::string_view::npos);
  options.reorder = 0;
  options.burst_enter = 0.1;
  options.burst_exit = 0;
  EXPECT_NE(ValidateImpairment(options).message().find("burst_exit"),
            absl::string_view::npos);
  options.burst_exit = 0.5;
  options.delay = absl::Milliseconds(-1);
  EXPECT_NE(ValidateImpairment(options).message().find("delay"),
            absl::string_view::npos);
}

TEST(SocketAddressTest, ParsesAndFormatsBothFamilies) {
  absl::StatusOr<SocketAddress> v4 = SocketAddress::Parse("127.0.0.1:5004");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->port(), 5004);
  EXPECT_EQ(v4->ToString(), "127.0.0.1:5004");
  absl::StatusOr<SocketAddress> v6 = SocketAddress::Parse("[::1]:80");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->ToString(), "[::1]:80");
  EXPECT_FALSE(*v4 == *v6);
  EXPECT_TRUE(*v4 == *SocketAddress::Parse("127.0.0.1:5004"));
}

TEST(SocketAddressTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
        "localhost:80", "::1:80", "[127.0.0.1]:80", "1.2.3.4:5x"}) {
    EXPECT_FALSE(SocketAddress::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace cascade
