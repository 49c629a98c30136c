// Public header of lbd_packet.
//
// FlowTable: the connection table of one forwarding thread (IPVS's
// ip_vs_conn_tab, but per thread and bounded). A flow is found by the key of
// its client's packets (client -> VIP) and, in nat, also by the key of the
// real server's replies (real server -> client).
//
// Memory: everything is allocated by the constructor: a pool of `capacity`
// flow nodes and an open-addressing index (linear probing, backward-shift
// deletion, load <= 1/2 with two keys per flow). Find/Insert/Erase never
// allocate. Insert returns nullptr when the pool is full: callers refuse the
// new flow and count it.
//
// Thread-safety: none; one owner at a time (the forwarder guards each
// forwarding thread's table with that thread's lock).
#ifndef LBD_PACKET_FLOW_TABLE_H_
#define LBD_PACKET_FLOW_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lbd/packet/tcp_state.h"

namespace lbd {

// A packet's 5-tuple, host byte order.
struct FlowKey {
  uint32_t src_ip = 0;
  uint32_t dst_ip = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint8_t protocol = 0;

  bool operator==(const FlowKey&) const = default;
};
uint32_t HashFlowKey(const FlowKey& key);

struct FlowEntry {
  FlowKey key;        // client -> VIP:port
  FlowKey reply_key;  // real server -> client (nat only; see has_reply)
  bool has_reply = false;
  bool in_use = false;
  bool active = false;  // counted as active on its real server (state ESTABLISHED)
  TcpState state = TcpState::kNone;
  uint32_t server = 0;  // the owner's index of the real server
  uint32_t rs_ip = 0;
  uint16_t rs_port = 0;
  int64_t expires_ns = 0;  // monotonic
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

class FlowTable {
 public:
  // `capacity` flows at most (at least 1).
  explicit FlowTable(size_t capacity);
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;
  FlowTable(FlowTable&&) = default;
  FlowTable& operator=(FlowTable&&) = default;

  size_t capacity() const { return nodes_.size(); }
  size_t size() const { return nodes_.size() - free_.size(); }

  // The flow whose key or reply key is `key`; `*is_reply` says which matched.
  FlowEntry* Find(const FlowKey& key, bool* is_reply);
  // A new flow for `key` (and `reply_key` when not null), zeroed otherwise.
  // nullptr when the table is full or a key is already present.
  FlowEntry* Insert(const FlowKey& key, const FlowKey* reply_key);
  // REQUIRES: `entry` came from this table and is in use.
  void Erase(FlowEntry* entry);

  // Looks at up to `max_scan` nodes from where the previous call stopped and
  // erases those with expires_ns <= now_ns, calling on_expired(entry) first.
  // Returns the number erased.
  template <typename F>
  size_t ExpireSome(int64_t now_ns, size_t max_scan, F&& on_expired) {
    size_t erased = 0;
    for (size_t i = 0; i < max_scan && i < nodes_.size(); ++i) {
      FlowEntry& e = nodes_[cursor_];
      cursor_ = cursor_ + 1 == nodes_.size() ? 0 : cursor_ + 1;
      if (e.in_use && e.expires_ns <= now_ns) {
        on_expired(e);
        Erase(&e);
        ++erased;
      }
    }
    return erased;
  }

  template <typename F>
  void ForEach(F&& f) const {
    for (const FlowEntry& e : nodes_) {
      if (e.in_use) f(e);
    }
  }

 private:
  struct Slot {
    uint32_t ref = 0;  // 0: empty; else node * 2 + (reply ? 1 : 0) + 1
    uint32_t hash = 0;
  };
  const FlowKey& KeyOf(uint32_t ref) const;
  size_t FindSlot(const FlowKey& key, uint32_t hash) const;  // slots_.size() if absent
  void InsertSlot(uint32_t ref, uint32_t hash);
  void EraseSlot(const FlowKey& key);

  std::vector<FlowEntry> nodes_;
  std::vector<uint32_t> free_;  // stack of free node indexes
  std::vector<Slot> slots_;     // power of two
  size_t mask_ = 0;
  size_t cursor_ = 0;
};

}  // namespace lbd

#endif  // LBD_PACKET_FLOW_TABLE_H_
