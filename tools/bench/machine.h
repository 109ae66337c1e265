// The record of the machine a benchmark ran on.
#ifndef CASCADE_TOOLS_BENCH_MACHINE_H_
#define CASCADE_TOOLS_BENCH_MACHINE_H_

#include <string>

namespace cascade::bench {

struct MachineRecord {
  std::string cpu_model;
  int cores = 0;
  std::string kernel;
  std::string load_average;  // at the start: the machine is shared
  std::string compiler;
  std::string started_utc;
};

MachineRecord ReadMachineRecord();

}  // namespace cascade::bench

#endif  // CASCADE_TOOLS_BENCH_MACHINE_H_
