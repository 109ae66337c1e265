#include "tools/bench/machine.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace cascade::bench {

MachineRecord ReadMachineRecord() {
  MachineRecord record;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);) {
    if (absl::StartsWith(line, "model name")) {
      record.cpu_model = std::string(
          absl::StripAsciiWhitespace(line.substr(line.find(':') + 1)));
      break;
    }
  }
  record.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  utsname name;
  if (uname(&name) == 0) {
    record.kernel =
        absl::StrCat(name.sysname, " ", name.release, " ", name.machine);
  }
  std::ifstream loadavg("/proc/loadavg");
  std::string one, five, fifteen;
  loadavg >> one >> five >> fifteen;
  record.load_average = absl::StrCat(one, " ", five, " ", fifteen);
  record.compiler = absl::StrCat("gcc ", __VERSION__);
  record.started_utc =
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  return record;
}

}  // namespace cascade::bench
