// Header of lbd_sys (internal to lbd: not installed).
//
// Fd: the one owner of a file descriptor in lbd (sockets, tun devices,
// pidfds, netlink): closes it when destroyed or reset; movable, not copyable.
//
// Thread-safety: like an int; one owner.
#ifndef LBD_SYS_FD_H_
#define LBD_SYS_FD_H_

namespace lbd {

// Closes a file descriptor owned by an RAII holder.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.Release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }

  int get() const { return fd_; }
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

}  // namespace lbd

#endif  // LBD_SYS_FD_H_
