// Internal header of liblbsched: the destination-address table of lblc and
// lblcr (the kernel's ip_vs_lblc_table / ip_vs_lblcr_table).
//
// Open addressing with linear probing, keyed by IPv4 destination address.
// Entries are never deleted one by one: an expired entry is treated as absent
// and reused in place, and when the table would grow past half full it first
// drops every expired entry (the kernel drops them from a timer; lazy expiry
// gives the same picks). So lookups and most inserts do not allocate; an
// insert allocates only when the live entries double.
//
// Thread-safety: none (the owning scheduler is serialized by Service).
#ifndef LBSCHED_SRC_LOCALITY_TABLE_H_
#define LBSCHED_SRC_LOCALITY_TABLE_H_

#include <chrono>
#include <cstdint>
#include <vector>

namespace lbd::sched_internal {

// Entry must have: uint32_t key; bool used; std::chrono::nanoseconds last_use.
template <typename Entry>
class LocalityTable {
 public:
  explicit LocalityTable(std::chrono::nanoseconds expiration, size_t initial_capacity = 1024)
      : expiration_(expiration), slots_(initial_capacity) {}

  // The live entry for `key`, or nullptr (absent or expired at `now`).
  Entry* Find(uint32_t key, std::chrono::nanoseconds now) {
    size_t i = Slot(key);
    while (slots_[i].used) {
      if (slots_[i].key == key) return Expired(slots_[i], now) ? nullptr : &slots_[i];
      i = (i + 1) & (slots_.size() - 1);
    }
    return nullptr;
  }

  // The slot for `key`, reset to a fresh Entry{key} when it was absent or
  // expired. Callers fill it.
  Entry& Insert(uint32_t key, std::chrono::nanoseconds now) {
    if ((used_ + 1) * 2 > slots_.size()) Rebuild(now);
    size_t i = Slot(key);
    while (slots_[i].used) {
      if (slots_[i].key == key) {
        if (Expired(slots_[i], now)) Reset(slots_[i], key);
        return slots_[i];
      }
      i = (i + 1) & (slots_.size() - 1);
    }
    ++used_;
    Reset(slots_[i], key);
    return slots_[i];
  }

  size_t size() const { return used_; }

 private:
  bool Expired(const Entry& e, std::chrono::nanoseconds now) const {
    return now - e.last_use > expiration_;
  }
  static void Reset(Entry& e, uint32_t key) {
    e = Entry{};
    e.key = key;
    e.used = true;
  }
  size_t Slot(uint32_t key) const {
    return static_cast<size_t>((uint64_t{key} * 0x9E3779B97F4A7C15ULL) >> 32) & (slots_.size() - 1);
  }
  // Drops expired entries; doubles the capacity if still at least half full.
  void Rebuild(std::chrono::nanoseconds now) {
    std::vector<Entry> old;
    old.swap(slots_);
    size_t live = 0;
    for (const Entry& e : old) live += e.used && !Expired(e, now) ? 1 : 0;
    size_t cap = old.size();
    while ((live + 1) * 2 > cap) cap *= 2;
    slots_.assign(cap, Entry{});
    used_ = 0;
    for (Entry& e : old) {
      if (!e.used || Expired(e, now)) continue;
      size_t i = Slot(e.key);
      while (slots_[i].used) i = (i + 1) & (slots_.size() - 1);
      slots_[i] = std::move(e);
      ++used_;
    }
  }

  const std::chrono::nanoseconds expiration_;
  std::vector<Entry> slots_;  // size is a power of two
  size_t used_ = 0;
};

}  // namespace lbd::sched_internal

#endif  // LBSCHED_SRC_LOCALITY_TABLE_H_
