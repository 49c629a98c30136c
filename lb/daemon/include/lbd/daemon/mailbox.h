// Internal header of lbd_daemon.
//
// Mailbox<T>: hands the latest immutable snapshot from one thread (the
// control thread) to another (a worker). Publish() keeps only the newest
// value; Take() returns it once. The worker is woken separately (ev_async).
//
// Thread-safety: Publish() and Take() may be called from any threads; a short
// mutex guards the slot. Take() runs in the worker's ev_async callback, never
// per connection, so the data path takes no lock.
#ifndef LBD_DAEMON_MAILBOX_H_
#define LBD_DAEMON_MAILBOX_H_

#include <memory>
#include <mutex>

namespace lbd {

template <typename T>
class Mailbox {
 public:
  void Publish(std::shared_ptr<const T> value) {
    std::shared_ptr<const T> old;
    {
      std::lock_guard<std::mutex> lock(mu_);
      old = std::move(slot_);
      slot_ = std::move(value);
    }
    // `old` (never taken) is released outside the lock.
  }

  // The newest published value not yet taken, or nullptr.
  std::shared_ptr<const T> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(slot_);
  }

 private:
  std::mutex mu_;
  std::shared_ptr<const T> slot_;
};

}  // namespace lbd

#endif  // LBD_DAEMON_MAILBOX_H_
