#include "tools/bench/forwarder.h"

#include <unistd.h>

#include <fstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tools/bench/process.h"
#include "tools/bench/rtp_load.h"

namespace cascade::bench {
namespace {

std::string JoinAddresses(const std::vector<SocketAddress>& addresses) {
  return absl::StrJoin(addresses, ",",
                       [](std::string* out, const SocketAddress& address) {
                         out->append(address.ToString());
                       });
}

class BaselineForwarder : public Forwarder {
 public:
  BaselineForwarder(std::string binary, std::string mode)
      : binary_(std::move(binary)), mode_(std::move(mode)) {}

  std::string name() const override { return mode_; }
  std::string version() const override {
    return binary_.empty() ? ""
                           : absl::StrCat("bare ", mode_,
                                          " loop (tools/bench/fanout_loop.cc)");
  }
  std::string unavailable_reason() const override {
    return binary_.empty() ? "fanout-baseline binary not found" : "";
  }

 protected:
  absl::StatusOr<std::vector<std::string>> Command(
      const ForwarderSetup& setup) const override {
    return std::vector<std::string>{
        binary_, "--mode=" + mode_, "--listen=" + setup.listen.ToString(),
        "--children=" + JoinAddresses(setup.children)};
  }

 private:
  const std::string binary_;
  const std::string mode_;
};

class GStreamerForwarder : public Forwarder {
 public:
  GStreamerForwarder()
      : version_(FirstOutputLine("gst-launch-1.0 --version | sed -n 2p")) {}

  std::string name() const override { return "gstreamer"; }
  std::string version() const override {
    return version_.empty()
               ? ""
               : version_ + " (gst-launch-1.0 udpsrc ! multiudpsink)";
  }
  std::string unavailable_reason() const override {
    return version_.empty() ? "gst-launch-1.0 not installed (./dev bench "
                              "installs gstreamer1.0-tools, "
                              "gstreamer1.0-plugins-good)"
                            : "";
  }

 protected:
  absl::StatusOr<std::vector<std::string>> Command(
      const ForwarderSetup& setup) const override {
    // sync=false: forward as fast as packets come, as a relay does.
    return std::vector<std::string>{"gst-launch-1.0",
                                    "-q",
                                    "udpsrc",
                                    absl::StrCat("port=", setup.listen.port()),
                                    "address=127.0.0.1",
                                    "buffer-size=4194304",
                                    "caps=application/x-rtp",
                                    "!",
                                    "multiudpsink",
                                    "clients=" + JoinAddresses(setup.children),
                                    "sync=false",
                                    "async=false",
                                    "buffer-size=4194304"};
  }

 private:
  const std::string version_;
};

class RelaydForwarder : public Forwarder {
 public:
  RelaydForwarder(std::string binary, int threads, bool uring)
      : binary_(std::move(binary)),
        threads_(threads),
        send_path_(uring ? "io_uring" : "sendmmsg"),
        commit_(FirstOutputLine("git rev-parse --short HEAD")) {}

  std::string name() const override {
    return RelaydForwarderName(threads_, send_path_ == "io_uring");
  }
  std::string version() const override {
    if (binary_.empty()) return "";
    const std::string built =
        commit_.empty() ? "this tree" : absl::StrCat("commit ", commit_);
    return absl::StrCat("Cascade relayd (", built, ", --threads=", threads_,
                        ", --send_path=", send_path_, ")");
  }
  std::string unavailable_reason() const override {
    return binary_.empty() ? "//relay:relayd not built" : "";
  }

 protected:
  absl::StatusOr<std::vector<std::string>> Command(
      const ForwarderSetup& setup) const override {
    const std::string config_path = setup.work_dir + "/relayd.textproto";
    std::ofstream config(config_path);
    config << "node_id: \"bench\"\n"
           << "listen: \"" << setup.listen.ToString() << "\"\n"
           << "parents { id: \"blaster\" address: \"" << setup.source.ToString()
           << "\" }\n"
           << "streams { ssrc: " << kBenchSsrc << " direction: DOWN }\n";
    for (size_t i = 0; i < setup.children.size(); ++i) {
      config << "children { id: \"site" << i << "\" address: \""
             << setup.children[i].ToString() << "\" static_push: true }\n";
    }
    if (!config.good()) {
      return absl::UnavailableError("cannot write " + config_path);
    }
    // As deployed: a fan-out under --threads_min_children (32) per thread
    // uses fewer threads.
    return std::vector<std::string>{binary_, "--config=" + config_path,
                                    absl::StrCat("--threads=", threads_),
                                    "--send_path=" + send_path_};
  }

 private:
  const std::string binary_;
  const int threads_;
  const std::string send_path_;  // relayd --send_path
  const std::string commit_;     // of the working directory's tree, if any
};

}  // namespace

absl::StatusOr<std::unique_ptr<Subprocess>> Forwarder::Start(
    const ForwarderSetup& setup) const {
  if (!unavailable_reason().empty()) {
    return absl::FailedPreconditionError(unavailable_reason());
  }
  absl::StatusOr<std::vector<std::string>> command = Command(setup);
  if (!command.ok()) return command.status();
  return Subprocess::Start(*command, {LogPath(setup), LogPath(setup)});
}

std::string Forwarder::LogPath(const ForwarderSetup& setup) const {
  return absl::StrCat(setup.work_dir, "/", name(), ".log");
}

std::unique_ptr<Forwarder> MakeBaselineForwarder(const std::string& binary,
                                                 const std::string& mode) {
  return std::make_unique<BaselineForwarder>(binary, mode);
}

std::unique_ptr<Forwarder> MakeGStreamerForwarder() {
  return std::make_unique<GStreamerForwarder>();
}

std::unique_ptr<Forwarder> MakeRelaydForwarder(const std::string& binary,
                                               int threads, bool uring) {
  return std::make_unique<RelaydForwarder>(binary, threads, uring);
}

std::string RelaydForwarderName(int threads, bool uring) {
  const std::string base = uring ? "relayd-uring" : "relayd";
  return threads == 1 ? base : absl::StrCat(base, "-t", threads);
}

}  // namespace cascade::bench
