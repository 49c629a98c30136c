// Public header of liblbsched.
//
// Status and Result<T>: the one error style of lbd's libraries. Nothing in the
// libraries throws; an operation that can fail returns one of these.
//
// Thread-safety: plain values; a const object may be read from several threads.
#ifndef LBSCHED_STATUS_H_
#define LBSCHED_STATUS_H_

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace lbd {

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message), true); }

  bool ok() const { return !failed_; }
  // REQUIRES: !ok(). A human-readable message, without a trailing newline.
  const std::string& message() const { return message_; }

 private:
  Status(std::string message, bool failed) : message_(std::move(message)), failed_(failed) {}

  std::string message_;
  bool failed_ = false;
};

// Either a T or a failed Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok());
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // REQUIRES: ok().
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  // The failure, or OK.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lbd

#endif  // LBSCHED_STATUS_H_
