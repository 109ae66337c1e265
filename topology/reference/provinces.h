// The 19 southern provinces of the reference deployment (DESIGN.md): the
// one copy of the table that the reference generator and relay-sim share.
#ifndef CASCADE_TOPOLOGY_REFERENCE_PROVINCES_H_
#define CASCADE_TOPOLOGY_REFERENCE_PROVINCES_H_

#include "absl/types/span.h"

namespace cascade::topology {

struct ProvinceCounts {
  const char* name;
  int districts;
  int communes;  // 2021 figures
};

inline absl::Span<const ProvinceCounts> South19Provinces() {
  static constexpr ProvinceCounts kProvinces[] = {
      {"Ho Chi Minh City", 22, 312},
      {"Binh Duong", 9, 91},
      {"Dong Nai", 11, 170},
      {"Binh Phuoc", 11, 111},
      {"Tay Ninh", 9, 94},
      {"Ba Ria - Vung Tau", 8, 82},
      {"Long An", 15, 192},
      {"Tien Giang", 11, 172},
      {"Ben Tre", 9, 157},
      {"Tra Vinh", 9, 106},
      {"Vinh Long", 8, 107},
      {"Dong Thap", 12, 143},
      {"An Giang", 11, 156},
      {"Kien Giang", 15, 144},
      {"Can Tho", 9, 83},
      {"Hau Giang", 8, 75},
      {"Soc Trang", 11, 109},
      {"Bac Lieu", 7, 64},
      {"Ca Mau", 9, 101},
  };
  return kProvinces;
}

// Sites in the reference deployment: the communes plus ~125 extra points.
inline constexpr int kSouth19Sites = 2594;

}  // namespace cascade::topology

#endif  // CASCADE_TOPOLOGY_REFERENCE_PROVINCES_H_
