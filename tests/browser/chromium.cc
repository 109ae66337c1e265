#include "tests/browser/chromium.h"

#include <errno.h>
#include <glog/logging.h>
#include <google/protobuf/util/json_util.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <filesystem>
#include <initializer_list>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/files.h"

namespace cascade::browser {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

// Chromium's messages are JSON objects; some (getStats() by value) run to
// hundreds of kilobytes.
constexpr size_t kReadChunk = 1 << 16;

const char* EnvOr(const char* name, const char* fallback) {
  const char* value = getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

Value StringValue(absl::string_view text) {
  Value value;
  value.set_string_value(std::string(text));
  return value;
}

Value BoolValue(bool b) {
  Value value;
  value.set_bool_value(b);
  return value;
}

Struct Object(std::initializer_list<std::pair<const char*, Value>> fields) {
  Struct object;
  for (const auto& [name, value] : fields) {
    (*object.mutable_fields())[name] = value;
  }
  return object;
}

Struct Request(int64_t id, absl::string_view method) {
  Value number;
  number.set_number_value(id);
  return Object({{"id", number}, {"method", StringValue(method)}});
}

const Value& Field(const Struct& object, const std::string& name) {
  auto it = object.fields().find(name);
  return it != object.fields().end() ? it->second : Value::default_instance();
}

const Struct& ObjectField(const Struct& object, const std::string& name) {
  return Field(object, name).struct_value();
}

const std::string& TextField(const Struct& object, const std::string& name) {
  return Field(object, name).string_value();
}

bool Has(const Struct& object, const std::string& name) {
  return object.fields().contains(name);
}

std::string Json(const google::protobuf::Message& message) {
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json).ok()) {
    return "(unprintable)";
  }
  return json;
}

// A console argument or a value shown in a message: strings as they are,
// other values as JSON, objects (not sent by value) as their description.
std::string Shown(const Struct& remote_object) {
  if (Has(remote_object, "value")) {
    const Value& value = Field(remote_object, "value");
    return value.has_string_value() ? value.string_value() : Json(value);
  }
  if (Has(remote_object, "unserializableValue")) {
    return TextField(remote_object, "unserializableValue");
  }
  if (Has(remote_object, "description")) {
    return TextField(remote_object, "description");
  }
  return TextField(remote_object, "type");  // "undefined"
}

// An exception's text: an Error's description holds its class, message and
// stack; a thrown non-Error is shown after the protocol's "Uncaught".
std::string ExceptionText(const Struct& details) {
  const Struct& exception = ObjectField(details, "exception");
  if (Has(exception, "description")) {
    return TextField(exception, "description");
  }
  if (Has(exception, "value")) {
    return absl::StrCat(TextField(details, "text"), " ", Shown(exception));
  }
  return TextField(details, "text");
}

// An expression as an error names it: its start, on one line.
std::string Abbreviated(absl::string_view expression) {
  std::string text(expression.substr(0, 80));
  std::replace(text.begin(), text.end(), '\n', ' ');
  return expression.size() > text.size() ? absl::StrCat(text, "...") : text;
}

absl::Status Annotated(const absl::Status& status, absl::string_view what) {
  return absl::Status(status.code(),
                      absl::StrCat(what, ": ", status.message()));
}

// poll()'s timeout for the time left until `deadline`, rounded up.
int PollMillis(absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(std::min<int64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))),
      INT_MAX));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Chromium>> Chromium::Launch(
    const ChromiumOptions& options) {
  const absl::Time deadline = absl::Now() + options.launch_timeout;
  const std::string binary = !options.binary.empty()
                                 ? options.binary
                                 : EnvOr("CASCADE_CHROMIUM", "chromium");
  const std::string temp_root = EnvOr("TEST_TMPDIR", EnvOr("TMPDIR", "/tmp"));
  std::string profile = absl::StrCat(temp_root, "/chromium-XXXXXX");
  if (mkdtemp(profile.data()) == nullptr) {
    return ErrnoStatus("cannot make a browser profile in", temp_root);
  }
  const std::string log_path =
      absl::StrCat(EnvOr("TEST_UNDECLARED_OUTPUTS_DIR", temp_root.c_str()), "/",
                   std::filesystem::path(profile).filename().string(), ".log");
  // From here the destructor removes the profile.
  auto chromium =
      std::unique_ptr<Chromium>(new Chromium(std::move(profile), log_path));

  // One socket serves as both of the pipe's ends in the browser (it reads
  // fd 3, writes fd 4): unlike a pipe's, our end sends with MSG_NOSIGNAL,
  // so a browser that died is an error here, not a SIGPIPE.
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    return ErrnoStatus("cannot make the DevTools pipe for", binary);
  }
  chromium->socket_ = ends[0];
  std::vector<std::string> argv = {
      binary,
      "--headless=new",
      "--remote-debugging-pipe",
      absl::StrCat("--user-data-dir=", chromium->profile_dir_),
      "--disable-gpu",
      "--no-first-run",
      "--no-default-browser-check",
      "--mute-audio",
      "--autoplay-policy=no-user-gesture-required",
  };
  if (geteuid() == 0) argv.push_back("--no-sandbox");
  argv.insert(argv.end(), options.extra_flags.begin(),
              options.extra_flags.end());
  SubprocessOptions subprocess(log_path, log_path);
  subprocess.own_process_group = true;  // its renderers end with it
  subprocess.die_with_parent = true;
  subprocess.child_fds = {{ends[1], 3}, {ends[1], 4}};
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, subprocess);
  close(ends[1]);
  if (!process.ok()) {
    return Annotated(process.status(), "cannot launch the browser");
  }
  chromium->process_ = *std::move(process);
  if (absl::Status opened = chromium->OpenPage(deadline); !opened.ok()) {
    return Annotated(opened, absl::StrCat("launching ", binary));
  }
  return chromium;
}

Chromium::~Chromium() {
  if (process_ != nullptr) {
    // Fails at once when the browser has gone.
    Send(Request(next_id_++, "Browser.close"), absl::Now() + absl::Seconds(1))
        .IgnoreError();
    if (absl::IsDeadlineExceeded(process_->Wait(absl::Seconds(2)).status())) {
      LOG(WARNING) << "chromium did not close within 2s: killed";
      process_->Kill().IgnoreError();
    }
  }
  if (socket_ >= 0) close(socket_);
  std::error_code ignored;
  std::filesystem::remove_all(profile_dir_, ignored);
}

absl::Status Chromium::OpenPage(absl::Time deadline) {
  absl::StatusOr<Struct> target =
      Call("Target.createTarget", Object({{"url", StringValue("about:blank")}}),
           deadline, /*to_browser=*/true);
  if (!target.ok()) return target.status();
  absl::StatusOr<Struct> attached =
      Call("Target.attachToTarget",
           Object({{"targetId", Field(*target, "targetId")},
                   {"flatten", BoolValue(true)}}),
           deadline, /*to_browser=*/true);
  if (!attached.ok()) return attached.status();
  session_id_ = TextField(*attached, "sessionId");
  for (const auto& [method, params] :
       std::initializer_list<std::pair<const char*, Struct>>{
           {"Page.enable", {}},
           {"Page.setLifecycleEventsEnabled",
            Object({{"enabled", BoolValue(true)}})},
           {"Runtime.enable", {}},
           {"Log.enable", {}}}) {
    absl::StatusOr<Struct> enabled = Call(method, params, deadline);
    if (!enabled.ok()) return enabled.status();
  }
  return absl::OkStatus();
}

absl::Status Chromium::Navigate(absl::string_view url, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  const std::string what = absl::StrCat("Navigate(", url, ")");
  loaded_.clear();
  absl::StatusOr<Struct> navigated =
      Call("Page.navigate", Object({{"url", StringValue(url)}}), deadline);
  if (!navigated.ok()) return Annotated(navigated.status(), what);
  if (!TextField(*navigated, "errorText").empty()) {
    return absl::UnavailableError(
        absl::StrCat(what, ": ", TextField(*navigated, "errorText")));
  }
  // No loader: a navigation within the document, which loads nothing.
  const std::string& loader = TextField(*navigated, "loaderId");
  if (loader.empty()) return absl::OkStatus();
  absl::Status loaded =
      ReceiveUntil(deadline, [&] { return loaded_.contains(loader); });
  if (absl::IsDeadlineExceeded(loaded)) {
    return absl::DeadlineExceededError(absl::StrCat(
        what, ": no load event within ", absl::FormatDuration(timeout),
        "; chromium's log: ", log_path_));
  }
  return Annotated(loaded, what);
}

absl::StatusOr<Value> Chromium::Evaluate(absl::string_view expression,
                                         absl::Duration timeout) {
  const std::string what =
      absl::StrCat("Evaluate(", Abbreviated(expression), ")");
  absl::StatusOr<Struct> evaluated =
      Call("Runtime.evaluate",
           Object({{"expression", StringValue(expression)},
                   {"awaitPromise", BoolValue(true)},
                   {"returnByValue", BoolValue(true)}}),
           absl::Now() + timeout);
  if (!evaluated.ok()) return Annotated(evaluated.status(), what);
  if (Has(*evaluated, "exceptionDetails")) {
    return absl::AbortedError(absl::StrCat(
        what, ": JavaScript exception: ",
        ExceptionText(ObjectField(*evaluated, "exceptionDetails"))));
  }
  const Struct& result = ObjectField(*evaluated, "result");
  if (Has(result, "value")) return Field(result, "value");
  if (Has(result, "unserializableValue")) {
    return StringValue(TextField(result, "unserializableValue"));
  }
  Value null;
  null.set_null_value(google::protobuf::NULL_VALUE);
  return null;
}

absl::Status Chromium::WaitFor(absl::string_view expression,
                               absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "no value";
  while (true) {
    absl::StatusOr<Value> value = Evaluate(expression, deadline - absl::Now());
    if (value.ok()) {
      if (value->bool_value()) return absl::OkStatus();
      last = Json(*value);
    } else if (!absl::IsDeadlineExceeded(value.status())) {
      return value.status();
    }
    if (absl::Now() >= deadline) break;
    // Between checks, events (console output) are still handled.
    absl::Status idle =
        ReceiveUntil(std::min(deadline, absl::Now() + absl::Milliseconds(50)),
                     [] { return false; });
    if (!absl::IsDeadlineExceeded(idle)) return idle;
  }
  return absl::DeadlineExceededError(
      absl::StrCat("WaitFor(", Abbreviated(expression), "): still ", last,
                   " after ", absl::FormatDuration(timeout)));
}

absl::StatusOr<Struct> Chromium::Call(absl::string_view method, Struct params,
                                      absl::Time deadline, bool to_browser) {
  awaited_id_ = next_id_++;
  answer_.reset();
  Struct message = Request(awaited_id_, method);
  *(*message.mutable_fields())["params"].mutable_struct_value() =
      std::move(params);
  if (!to_browser) {
    (*message.mutable_fields())["sessionId"] = StringValue(session_id_);
  }
  absl::Status sent = Send(message, deadline);
  absl::Status answered =
      sent.ok() ? ReceiveUntil(deadline, [this] { return answer_.has_value(); })
                : sent;
  if (absl::IsDeadlineExceeded(answered)) {
    return absl::DeadlineExceededError(absl::StrCat(
        method, ": no answer in time; chromium's log: ", log_path_));
  }
  if (!answered.ok()) return answered;
  if (Has(*answer_, "error")) {
    const Struct& error = ObjectField(*answer_, "error");
    return absl::InternalError(absl::StrCat(
        method, ": ", TextField(error, "message"), " (DevTools error ",
        Field(error, "code").number_value(), ")"));
  }
  return ObjectField(*answer_, "result");
}

absl::Status Chromium::Send(const Struct& message, absl::Time deadline) {
  std::string json;
  if (auto printed =
          google::protobuf::util::MessageToJsonString(message, &json);
      !printed.ok()) {
    return absl::InternalError(printed.ToString());
  }
  json.push_back('\0');  // the pipe's message separator
  absl::string_view left = json;
  while (!left.empty()) {
    pollfd writable = {socket_, POLLOUT, 0};
    const int ready = poll(&writable, 1, PollMillis(deadline));
    if (ready < 0 && errno != EINTR) return Lost(strerror(errno));
    if (ready == 0) return absl::DeadlineExceededError("the pipe is full");
    const ssize_t n =
        send(socket_, left.data(), left.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      left.remove_prefix(n);
    } else if (errno != EAGAIN && errno != EINTR) {
      return Lost(strerror(errno));
    }
  }
  return absl::OkStatus();
}

absl::Status Chromium::ReceiveUntil(absl::Time deadline,
                                    const std::function<bool()>& done) {
  while (!done()) {
    if (!gone_.ok()) return gone_;
    if (const size_t end = received_.find('\0'); end != std::string::npos) {
      Struct message;
      auto parsed = google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(received_.data(), end), &message);
      if (!parsed.ok()) {
        return absl::InternalError(absl::StrCat(
            "unreadable message from chromium (", parsed.ToString(),
            "): ", Abbreviated(received_.substr(0, end))));
      }
      received_.erase(0, end + 1);
      Handle(std::move(message));
      continue;
    }
    if (absl::Now() >= deadline) return absl::DeadlineExceededError("");
    pollfd readable = {socket_, POLLIN, 0};
    const int ready = poll(&readable, 1, PollMillis(deadline));
    if (ready < 0 && errno != EINTR) return Lost(strerror(errno));
    if (ready <= 0) continue;
    char chunk[kReadChunk];
    const ssize_t n = recv(socket_, chunk, sizeof(chunk), MSG_DONTWAIT);
    if (n == 0) return Lost("it closed its pipe");
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return Lost(strerror(errno));
    }
    if (n > 0) received_.append(chunk, n);
  }
  return absl::OkStatus();
}

void Chromium::Handle(Struct message) {
  if (Has(message, "id")) {
    // An answer nobody waits for any more (its call timed out) is dropped.
    if (Field(message, "id").number_value() == awaited_id_) {
      answer_ = std::move(message);
    }
    return;
  }
  const std::string& method = TextField(message, "method");
  const Struct& params = ObjectField(message, "params");
  if (method == "Page.lifecycleEvent") {
    if (TextField(params, "name") == "load") {
      loaded_.insert(TextField(params, "loaderId"));
    }
  } else if (method == "Runtime.consoleAPICalled") {
    std::vector<std::string> args;
    for (const Value& arg : Field(params, "args").list_value().values()) {
      args.push_back(Shown(arg.struct_value()));
    }
    console_.push_back(absl::StrCat("console.", TextField(params, "type"), ": ",
                                    absl::StrJoin(args, " ")));
  } else if (method == "Runtime.exceptionThrown") {
    console_.push_back(absl::StrCat(
        "uncaught: ", ExceptionText(ObjectField(params, "exceptionDetails"))));
  } else if (method == "Log.entryAdded") {
    const Struct& entry = ObjectField(params, "entry");
    std::string line = absl::StrCat("log.", TextField(entry, "level"), ": ",
                                    TextField(entry, "text"));
    if (!TextField(entry, "url").empty()) {
      absl::StrAppend(&line, " (", TextField(entry, "url"), ")");
    }
    console_.push_back(std::move(line));
  } else if (method == "Inspector.targetCrashed") {
    gone_ = absl::UnavailableError(
        absl::StrCat("the page crashed; chromium's log: ", log_path_));
  } else if (method == "Target.detachedFromTarget" &&
             TextField(params, "sessionId") == session_id_) {
    gone_ = absl::UnavailableError("the page was closed");
  }
}

absl::Status Chromium::Lost(absl::string_view why) {
  if (gone_.ok()) {
    gone_ = absl::UnavailableError(absl::StrCat(
        "chromium is gone (", why, "; ",
        ExitText(process_->Wait(absl::Seconds(2))), "); its log: ", log_path_));
  }
  return gone_;
}

}  // namespace cascade::browser
