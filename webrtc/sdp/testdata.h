// The browsers' offers of testdata/, read from the test's runfiles.
#ifndef CASCADE_WEBRTC_SDP_TESTDATA_H_
#define CASCADE_WEBRTC_SDP_TESTDATA_H_

#include <fstream>
#include <iterator>
#include <string>

namespace cascade::sdp {

// The text of testdata/`name`, or "" when it cannot be read.
inline std::string TestOffer(const std::string& name) {
  std::ifstream in("webrtc/sdp/testdata/" + name, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

}  // namespace cascade::sdp

#endif  // CASCADE_WEBRTC_SDP_TESTDATA_H_
