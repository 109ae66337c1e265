// Seed inputs of //topology:topology_fuzz: topology files as the tests and
// operators write them, and one of each kind the parser or the validation
// refuses. `make_corpus` writes them to corpus/topology_fuzz/ and
// `corpus_test` checks the committed files against them.
#ifndef CASCADE_TOPOLOGY_FUZZ_SEEDS_H_
#define CASCADE_TOPOLOGY_FUZZ_SEEDS_H_

#include <string>
#include <vector>

namespace cascade::topology {

struct TopologySeed {
  // File name: "ok_" seeds parse and validate, "bad_" seeds are refused by
  // one or the other.
  std::string name;
  std::string text;
  // bad_ seeds: a piece of the message refusing them, parsed and validated
  // with source name "seed" (a parser error names "seed:LINE:COLUMN").
  std::string refusal;
};

std::vector<TopologySeed> TopologySeeds();

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_FUZZ_SEEDS_H_
