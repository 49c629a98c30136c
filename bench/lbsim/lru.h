// Internal header of lbsim: the per-server cache of destinations.
//
// Thread-safety: none; one object per simulated server.
#ifndef LBD_BENCH_LBSIM_LRU_H_
#define LBD_BENCH_LBSIM_LRU_H_

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace lbd::lbsim {

// A least-recently-used set of destination indices: an intrusive list over a
// node pool plus a hash index. O(1) per Touch(); allocates only while filling.
class Lru {
 public:
  explicit Lru(size_t capacity) : capacity_(capacity) { index_.reserve(capacity * 2); }
  // True on a hit; on a miss inserts `key`, evicting the least recently used.
  bool Touch(uint32_t key) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      Unlink(it->second);
      PushFront(it->second);
      return true;
    }
    uint32_t node;
    if (nodes_.size() < capacity_) {
      node = static_cast<uint32_t>(nodes_.size());
      nodes_.push_back({});
    } else {
      node = tail_;
      Unlink(node);
      index_.erase(nodes_[node].key);
    }
    nodes_[node].key = key;
    PushFront(node);
    index_.emplace(key, node);
    return false;
  }
  void Clear() {
    nodes_.clear();
    index_.clear();
    head_ = tail_ = kNil;
  }

 private:
  static constexpr uint32_t kNil = UINT32_MAX;
  struct Node {
    uint32_t key = 0, prev = kNil, next = kNil;
  };
  void Unlink(uint32_t n) {
    Node& x = nodes_[n];
    (x.prev == kNil ? head_ : nodes_[x.prev].next) = x.next;
    (x.next == kNil ? tail_ : nodes_[x.next].prev) = x.prev;
  }
  void PushFront(uint32_t n) {
    nodes_[n].prev = kNil;
    nodes_[n].next = head_;
    (head_ == kNil ? tail_ : nodes_[head_].prev) = n;
    head_ = n;
  }

  size_t capacity_;
  std::vector<Node> nodes_;
  std::unordered_map<uint32_t, uint32_t> index_;
  uint32_t head_ = kNil, tail_ = kNil;
};

}  // namespace lbd::lbsim

#endif  // LBD_BENCH_LBSIM_LRU_H_
