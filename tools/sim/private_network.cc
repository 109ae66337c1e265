#include "tools/sim/private_network.h"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cascade::sim {
namespace {

absl::Status ErrnoStatus(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// Feeds `script` to `nft -f -`.
absl::Status RunNft(const std::string& script) {
  FILE* nft = popen("nft -f - 2>&1", "w");
  if (nft == nullptr) return ErrnoStatus("starting nft");
  std::fwrite(script.data(), 1, script.size(), nft);
  int status = pclose(nft);
  if (status == -1) return ErrnoStatus("waiting for nft");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(
        "nft refused the loss rule (is the nftables package installed?): ",
        script));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status EnterPrivateNetwork() {
  if (geteuid() != 0) {
    return absl::PermissionDeniedError(
        "the simulation needs root to create its private network namespace");
  }
  if (unshare(CLONE_NEWNET) != 0) return ErrnoStatus("unshare(CLONE_NEWNET)");
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus("socket");
  ifreq request{};
  std::snprintf(request.ifr_name, IFNAMSIZ, "lo");
  int result = ioctl(fd, SIOCGIFFLAGS, &request);
  if (result == 0) {
    request.ifr_flags |= IFF_UP;
    result = ioctl(fd, SIOCSIFFLAGS, &request);
  }
  int saved_errno = errno;
  close(fd);
  errno = saved_errno;
  if (result != 0) return ErrnoStatus("bringing up loopback");
  return absl::OkStatus();
}

absl::Status SetRandomLoss(double ratio) {
  if (ratio < 0 || ratio > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("loss ratio must be within 0..1, got ", ratio));
  }
  // "destroy" is not in nftables 1.0.6: add-then-delete removes the table
  // whether or not it existed.
  std::string script =
      "add table inet cascade_sim\n"
      "delete table inet cascade_sim\n";
  if (ratio > 0) {
    const int per_million = static_cast<int>(ratio * 1e6 + 0.5);
    absl::StrAppendFormat(
        &script,
        "table inet cascade_sim {\n"
        "  chain input {\n"
        "    type filter hook input priority 0; policy accept;\n"
        "    meta l4proto udp numgen random mod 1000000 < %d counter drop\n"
        "  }\n"
        "}\n",
        per_million);
  }
  return RunNft(script);
}

absl::Status RedirectUdp(const std::string& source, const std::string& to,
                         const std::string& target) {
  const size_t colon = to.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError("not IP:PORT: " + to);
  }
  return RunNft(absl::StrFormat(
      "add table ip cascade_sim_redirect\n"
      "add chain ip cascade_sim_redirect output { type nat hook output "
      "priority -100; policy accept; }\n"
      "add rule ip cascade_sim_redirect output ip saddr %s ip daddr %s "
      "udp dport %s dnat to %s\n",
      source, to.substr(0, colon), to.substr(colon + 1), target));
}

}  // namespace cascade::sim
