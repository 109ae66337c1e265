// Owns one heap-allocated libuv handle (uv_timer_t, uv_poll_t, uv_async_t,
// uv_signal_t, uv_udp_t...): closes it when the owner goes, and frees it in
// the close callback, which libuv runs on a later loop turn, possibly after
// the owner is gone. Loop thread only.
#ifndef CASCADE_BASE_UV_HANDLE_H_
#define CASCADE_BASE_UV_HANDLE_H_

#include <uv.h>

#include <utility>

namespace cascade {

template <typename T>
class UvHandle {
 public:
  UvHandle() = default;
  // A fresh handle, not yet initialised: the caller runs uv_*_init on
  // get(), then sets get()->data for its callbacks.
  static UvHandle Make() { return UvHandle(new T); }
  ~UvHandle() { Reset(); }
  UvHandle(UvHandle&& other) noexcept : handle_(other.release()) {}
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      Reset();
      handle_ = other.release();
    }
    return *this;
  }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;

  T* get() const { return handle_; }
  // For a handle whose uv_*_init failed (libuv does not know it, so it
  // cannot be closed): gives it back to be deleted.
  T* release_uninitialised() { return release(); }
  explicit operator bool() const { return handle_ != nullptr; }

  // Closes the handle (it must have been initialised); no callback of it
  // reaches its old owner any more (`data` is cleared).
  void Reset() {
    if (handle_ == nullptr) return;
    handle_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(release()),
             [](uv_handle_t* h) { delete reinterpret_cast<T*>(h); });
  }

 private:
  explicit UvHandle(T* handle) : handle_(handle) {}
  T* release() { return std::exchange(handle_, nullptr); }

  T* handle_ = nullptr;
};

}  // namespace cascade

#endif  // CASCADE_BASE_UV_HANDLE_H_
