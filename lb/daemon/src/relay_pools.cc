#include "lbd/daemon/relay_pools.h"

#include <fcntl.h>
#include <unistd.h>

namespace lbd {

PipePool::~PipePool() {
  for (auto& p : free_) {
    close(p.r);
    close(p.w);
  }
}

bool PipePool::Get(int fds[2]) {
  if (!free_.empty()) {
    fds[0] = free_.back().r;
    fds[1] = free_.back().w;
    free_.pop_back();
    return true;
  }
  return pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0;
}

void PipePool::Put(int fds[2]) {
  if (free_.size() < max_cached_) {
    free_.push_back({fds[0], fds[1]});
  } else {
    close(fds[0]);
    close(fds[1]);
  }
  fds[0] = fds[1] = -1;
}

char* BufferPool::Get() {
  if (free_.empty()) return new char[kBufferSize];
  char* b = free_.back().release();
  free_.pop_back();
  return b;
}

void BufferPool::Put(char* buffer) {
  if (free_.size() < max_cached_) {
    free_.emplace_back(buffer);
  } else {
    delete[] buffer;
  }
}

}  // namespace lbd
