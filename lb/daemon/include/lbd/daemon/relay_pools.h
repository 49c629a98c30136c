// Internal header of lbd_daemon.
//
// Per-worker pools that keep the data path free of allocations in steady
// state: pipe pairs for splice(), copy buffers for the read/write fallback,
// and the slab of Connection objects (SlabPool, below).
//
// A connection borrows a pipe only while bytes are in flight in one direction
// and gives it back as soon as the pipe is empty, so an idle connection holds
// no pipe and no buffer: its whole cost is one Connection slot plus its two
// sockets.
//
// Thread-safety: none; each pool belongs to one worker thread.
#ifndef LBD_DAEMON_RELAY_POOLS_H_
#define LBD_DAEMON_RELAY_POOLS_H_

#include <cstddef>
#include <memory>
#include <vector>

namespace lbd {

class PipePool {
 public:
  // At most `max_cached` empty pipes are kept for reuse.
  explicit PipePool(size_t max_cached = 64) : max_cached_(max_cached) {}
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;
  ~PipePool();

  // fds[0] reads, fds[1] writes, both non-blocking. False (errno set) when a
  // new pipe was needed and pipe2() failed.
  bool Get(int fds[2]);
  // REQUIRES: the pipe is empty.
  void Put(int fds[2]);
  size_t cached() const { return free_.size(); }

 private:
  struct Pair {
    int r, w;
  };
  size_t max_cached_;
  std::vector<Pair> free_;
};

class BufferPool {
 public:
  // Large enough to take a whole default pipe (64 KiB) when a connection
  // falls back from splice with bytes still in its pipe.
  static constexpr size_t kBufferSize = 65536;

  explicit BufferPool(size_t max_cached = 16) : max_cached_(max_cached) {}
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  char* Get();
  void Put(char* buffer);

 private:
  size_t max_cached_;
  std::vector<std::unique_ptr<char[]>> free_;
};

// A slab of T objects carved from chunks that are never returned to the heap:
// Get()/Put() are a free-list pop/push. T must have a member `T* pool_next`.
template <typename T>
class SlabPool {
 public:
  static constexpr size_t kChunk = 256;

  SlabPool() = default;
  SlabPool(const SlabPool&) = delete;
  SlabPool& operator=(const SlabPool&) = delete;

  T* Get() {
    if (free_ == nullptr) Grow();
    T* t = free_;
    free_ = t->pool_next;
    t->pool_next = nullptr;
    ++in_use_;
    return t;
  }
  void Put(T* t) {
    t->pool_next = free_;
    free_ = t;
    --in_use_;
  }
  size_t in_use() const { return in_use_; }
  size_t capacity() const { return chunks_.size() * kChunk; }

 private:
  void Grow() {
    chunks_.push_back(std::make_unique<T[]>(kChunk));
    T* chunk = chunks_.back().get();
    for (size_t i = kChunk; i-- > 0;) {
      chunk[i].pool_next = free_;
      free_ = &chunk[i];
    }
  }
  std::vector<std::unique_ptr<T[]>> chunks_;
  T* free_ = nullptr;
  size_t in_use_ = 0;
};

}  // namespace lbd

#endif  // LBD_DAEMON_RELAY_POOLS_H_
