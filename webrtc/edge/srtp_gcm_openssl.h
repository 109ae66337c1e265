// AES-GCM for libsrtp2 (RFC 7714) on OpenSSL's EVP instead of NSS.
//
// Debian's libsrtp2 is built on NSS, whose AES-GCM opens a PKCS#11 context,
// expands the key and takes a session lock for every packet: profiled under
// 200 WHEP viewers, NSS took about half of relayd's CPU, some 2.4 us of a
// packet's 5 us. libsrtp lets a program replace a cipher type
// (srtp_replace_cipher_type); this one keeps one EVP context per libsrtp
// cipher, keyed once, and only sets the IV per packet. libsrtp still does
// all of SRTP (key derivation, IVs, replay, packet layout); OpenSSL does
// the cipher. libsrtp checks the replacement against its own test vectors
// before taking it.
#ifndef CASCADE_WEBRTC_EDGE_SRTP_GCM_OPENSSL_H_
#define CASCADE_WEBRTC_EDGE_SRTP_GCM_OPENSSL_H_

#include "absl/status/status.h"

namespace cascade::edge {

// Initialises libsrtp2 (dtls::SrtpSession::Prepare) and replaces its
// AES-128-GCM and AES-256-GCM ciphers with OpenSSL's, for the sessions
// created from then on (SRTP_AEAD_AES_128_GCM, what browsers choose).
// Process-wide; once, before any other thread uses libsrtp; later calls
// return the first one's result.
absl::Status UseOpenSslForSrtpGcm();

}  // namespace cascade::edge

#endif  // CASCADE_WEBRTC_EDGE_SRTP_GCM_OPENSSL_H_
