// Checks of TLS material (PEM text) before it reaches gRPC, which reports
// PEM that does not parse, or a key that is not its certificate's, only as
// a channel that never connects ("empty address list").
#ifndef CASCADE_TOPOLOGY_ETCD_PEM_H_
#define CASCADE_TOPOLOGY_ETCD_PEM_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace cascade::topology::etcd {

// OK when `pem` holds one or more certificates and nothing else that looks
// like PEM; InvalidArgument saying what is wrong otherwise.
absl::Status CheckCertificatesPem(absl::string_view pem);

// OK when `key_pem` is an unencrypted private key (gRPC takes no others)
// and the key of the first certificate in `certificate_pem`.
absl::Status CheckKeyPairPem(absl::string_view certificate_pem,
                             absl::string_view key_pem);

}  // namespace cascade::topology::etcd

#endif  // CASCADE_TOPOLOGY_ETCD_PEM_H_
