#include "webrtc/edge/srtp_gcm_openssl.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <srtp2/cipher.h>
#include <srtp2/srtp.h>

#include <cstdint>
#include <new>

#include "absl/strings/str_cat.h"
#include "webrtc/dtls/srtp_session.h"

namespace cascade::edge {
namespace {

// One libsrtp cipher's state: an EVP context keyed at init, and which way
// the packet under way goes.
struct GcmState {
  EVP_CIPHER_CTX* ctx = nullptr;
  int tag_len = 16;
  bool encrypt = true;
};

GcmState* State(void* state) { return static_cast<GcmState*>(state); }

extern const srtp_cipher_type_t kOpenSslGcm128;

srtp_err_status_t Alloc(srtp_cipher_t** cipher, int key_len, int tag_len) {
  // The key with its salt: libsrtp derives both and hands over the run.
  if (key_len != SRTP_AES_GCM_128_KEY_LEN_WSALT) {
    return srtp_err_status_bad_param;
  }
  if (tag_len != 16 && tag_len != 8) return srtp_err_status_bad_param;
  auto* state = new (std::nothrow) GcmState();
  auto* c = new (std::nothrow) srtp_cipher_t();
  if (state != nullptr) state->ctx = EVP_CIPHER_CTX_new();
  if (state == nullptr || c == nullptr || state->ctx == nullptr) {
    if (state != nullptr) EVP_CIPHER_CTX_free(state->ctx);
    delete state;
    delete c;
    return srtp_err_status_alloc_fail;
  }
  state->tag_len = tag_len;
  c->type = &kOpenSslGcm128;
  c->state = state;
  c->key_len = key_len;
  c->algorithm = SRTP_AES_GCM_128;
  *cipher = c;
  return srtp_err_status_ok;
}

srtp_err_status_t Dealloc(srtp_cipher_t* cipher) {
  GcmState* state = State(cipher->state);
  EVP_CIPHER_CTX_free(state->ctx);  // clears the key schedule
  OPENSSL_cleanse(state, sizeof(*state));
  delete state;
  delete cipher;
  return srtp_err_status_ok;
}

// `key`: the 16-byte AES key (the salt after it is libsrtp's, for IVs).
srtp_err_status_t Init(void* state, const uint8_t* key) {
  GcmState* s = State(state);
  if (EVP_CipherInit_ex(s->ctx, EVP_aes_128_gcm(), nullptr, key, nullptr, 1) !=
      1) {
    return srtp_err_status_init_fail;
  }
  return srtp_err_status_ok;
}

// The 12-byte IV of one packet (RFC 7714 8.1); the key stays.
srtp_err_status_t SetIv(void* state, uint8_t* iv,
                        srtp_cipher_direction_t direction) {
  GcmState* s = State(state);
  if (direction != srtp_direction_encrypt &&
      direction != srtp_direction_decrypt) {
    return srtp_err_status_bad_param;
  }
  s->encrypt = direction == srtp_direction_encrypt;
  if (EVP_CipherInit_ex(s->ctx, nullptr, nullptr, nullptr, iv,
                        s->encrypt ? 1 : 0) != 1) {
    return srtp_err_status_init_fail;
  }
  return srtp_err_status_ok;
}

// Authenticated, not encrypted: the RTP header, or for SRTCP the header and
// then the index word (two calls).
srtp_err_status_t SetAad(void* state, const uint8_t* aad, uint32_t aad_len) {
  GcmState* s = State(state);
  int out = 0;
  if (EVP_CipherUpdate(s->ctx, nullptr, &out, aad, static_cast<int>(aad_len)) !=
      1) {
    return srtp_err_status_algo_fail;
  }
  return srtp_err_status_ok;
}

srtp_err_status_t Encrypt(void* state, uint8_t* buffer, unsigned int* size) {
  GcmState* s = State(state);
  int out = 0;
  if (!s->encrypt || EVP_EncryptUpdate(s->ctx, buffer, &out, buffer,
                                       static_cast<int>(*size)) != 1) {
    return srtp_err_status_cipher_fail;
  }
  return srtp_err_status_ok;
}

// After Encrypt: writes the tag at `tag`, its length to *len.
srtp_err_status_t GetTag(void* state, uint8_t* tag, uint32_t* len) {
  GcmState* s = State(state);
  int out = 0;
  uint8_t unused[16];
  if (EVP_EncryptFinal_ex(s->ctx, unused, &out) != 1 ||
      EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_GET_TAG, s->tag_len, tag) != 1) {
    return srtp_err_status_algo_fail;
  }
  *len = static_cast<uint32_t>(s->tag_len);
  return srtp_err_status_ok;
}

// `*size` bytes: the ciphertext and its tag. On success the plaintext is in
// place and *size excludes the tag.
srtp_err_status_t Decrypt(void* state, uint8_t* buffer, unsigned int* size) {
  GcmState* s = State(state);
  if (s->encrypt) return srtp_err_status_cipher_fail;
  if (*size < static_cast<unsigned int>(s->tag_len)) {
    return srtp_err_status_cipher_fail;
  }
  const int data = static_cast<int>(*size) - s->tag_len;
  int out = 0;
  if (EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_GCM_SET_TAG, s->tag_len,
                          buffer + data) != 1 ||
      EVP_DecryptUpdate(s->ctx, buffer, &out, buffer, data) != 1) {
    return srtp_err_status_cipher_fail;
  }
  uint8_t unused[16];
  if (EVP_DecryptFinal_ex(s->ctx, unused, &out) != 1) {
    return srtp_err_status_auth_fail;
  }
  *size = static_cast<unsigned int>(data);
  return srtp_err_status_ok;
}

// The GCM specification's test case 4 (McGrew and Viega), the key followed
// by 12 salt bytes the cipher ignores; the 8-byte tag is the 16-byte one cut.
constexpr uint8_t kTestKey[SRTP_AES_GCM_128_KEY_LEN_WSALT] = {
    0xfe, 0xff, 0xe9, 0x92, 0x86, 0x65, 0x73, 0x1c, 0x6d, 0x6a,
    0x8f, 0x94, 0x67, 0x30, 0x83, 0x08, 1,    2,    3,    4,
    5,    6,    7,    8,    9,    10,   11,   12};
uint8_t test_iv[12] = {0xca, 0xfe, 0xba, 0xbe, 0xfa, 0xce,
                       0xdb, 0xad, 0xde, 0xca, 0xf8, 0x88};
constexpr uint8_t kTestPlain[60] = {
    0xd9, 0x31, 0x32, 0x25, 0xf8, 0x84, 0x06, 0xe5, 0xa5, 0x59, 0x09, 0xc5,
    0xaf, 0xf5, 0x26, 0x9a, 0x86, 0xa7, 0xa9, 0x53, 0x15, 0x34, 0xf7, 0xda,
    0x2e, 0x4c, 0x30, 0x3d, 0x8a, 0x31, 0x8a, 0x72, 0x1c, 0x3c, 0x0c, 0x95,
    0x95, 0x68, 0x09, 0x53, 0x2f, 0xcf, 0x0e, 0x24, 0x49, 0xa6, 0xb5, 0x25,
    0xb1, 0x6a, 0xed, 0xf5, 0xaa, 0x0d, 0xe6, 0x57, 0xba, 0x63, 0x7b, 0x39};
constexpr uint8_t kTestAad[20] = {0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad, 0xbe,
                                  0xef, 0xfe, 0xed, 0xfa, 0xce, 0xde, 0xad,
                                  0xbe, 0xef, 0xab, 0xad, 0xda, 0xd2};
constexpr uint8_t kTestCipher[76] = {
    0x42, 0x83, 0x1e, 0xc2, 0x21, 0x77, 0x74, 0x24, 0x4b, 0x72, 0x21, 0xb7,
    0x84, 0xd0, 0xd4, 0x9c, 0xe3, 0xaa, 0x21, 0x2f, 0x2c, 0x02, 0xa4, 0xe0,
    0x35, 0xc1, 0x7e, 0x23, 0x29, 0xac, 0xa1, 0x2e, 0x21, 0xd5, 0x14, 0xb2,
    0x54, 0x66, 0x93, 0x1c, 0x7d, 0x8f, 0x6a, 0x5a, 0xac, 0x84, 0xaa, 0x05,
    0x1b, 0xa3, 0x0b, 0x39, 0x6a, 0x0a, 0xac, 0x97, 0x3d, 0x58, 0xe0, 0x91,
    // the tag
    0x5b, 0xc9, 0x4f, 0xbc, 0x32, 0x21, 0xa5, 0xdb, 0x94, 0xfa, 0xe9, 0x5a,
    0xe7, 0x12, 0x1a, 0x47};

const srtp_cipher_test_case_t kTestShortTag = {SRTP_AES_GCM_128_KEY_LEN_WSALT,
                                               kTestKey,
                                               test_iv,
                                               60,
                                               kTestPlain,
                                               68,
                                               kTestCipher,
                                               20,
                                               kTestAad,
                                               8,
                                               nullptr};
const srtp_cipher_test_case_t kTest = {SRTP_AES_GCM_128_KEY_LEN_WSALT,
                                       kTestKey,
                                       test_iv,
                                       60,
                                       kTestPlain,
                                       76,
                                       kTestCipher,
                                       20,
                                       kTestAad,
                                       16,
                                       &kTestShortTag};

const srtp_cipher_type_t kOpenSslGcm128 = {
    Alloc,  Dealloc,         Init,
    SetAad, Encrypt,         Decrypt,
    SetIv,  GetTag,          "AES-128 GCM on OpenSSL EVP (cascade)",
    &kTest, SRTP_AES_GCM_128};

}  // namespace

absl::Status UseOpenSslForSrtpGcm() {
  static const absl::Status status = []() -> absl::Status {
    if (absl::Status ready = dtls::SrtpSession::Prepare(); !ready.ok()) {
      return ready;
    }
    // libsrtp runs both its own vectors and ours against the replacement.
    const srtp_err_status_t replaced =
        srtp_replace_cipher_type(&kOpenSslGcm128, SRTP_AES_GCM_128);
    if (replaced != srtp_err_status_ok) {
      return absl::InternalError(absl::StrCat(
          "libsrtp2 refused OpenSSL's AES-128-GCM (error ", replaced, ")"));
    }
    return absl::OkStatus();
  }();
  return status;
}

}  // namespace cascade::edge
