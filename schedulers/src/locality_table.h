// Internal header of liblbsched: the destination-address table of lblc and
// lblcr (the kernel's ip_vs_lblc_table / ip_vs_lblcr_table), bounded.
//
// Open addressing with linear probing, keyed by IPv4 destination address;
// deletion shifts the following entries back (no tombstones). An entry unused
// for longer than the expiration is treated as absent at once and reused in
// place (the kernel drops it from a timer; lazy expiry gives the same picks).
//
// Size, as in ip_vs_lblc.c / ip_vs_lblcr.c, driven by the injected clock:
//  - the periodic check (CHECK_EXPIRE_INTERVAL, 60 s by default) runs lazily
//    at the first pick after it is due; missed periods count as checks that
//    found the table small;
//  - a check that finds the table above the soft limit (IP_VS_LBLC_TAB_SIZE
//    * 16 = 16384) drops entries unused for at least the entry timeout
//    (ENTRY_TIMEOUT, 6 min) or expired, scanning on from where the last
//    check stopped, until it has dropped min((size - soft limit) * 4 / 3,
//    soft limit / 2) of them;
//  - the other checks are counted, and every 30th of them
//    (COUNT_FOR_FULL_EXPIRATION) is a full check instead: it drops every
//    expired entry (unused for longer than the expiration, 24 h);
//  - the hard limit (max_entries, an lbd addition) is never exceeded: a new
//    destination met when the table is full gets no entry (the pick is still
//    made), which is what the kernel does when it cannot allocate one.
// Memory: the slot array is a power of two at most half full, so at most
// NextPowerOfTwo(2 * max_entries) slots of sizeof(Entry) bytes, plus whatever
// an Entry owns (lblcr's server set). A check that leaves the table under
// 1/8 full shrinks it.
// Cost: Find and Insert are O(1) expected; Insert allocates only when the
// table doubles (amortised O(1)). A check is O(slots) at most, once per
// check interval.
//
// Thread-safety: none (the owning scheduler is serialized by Service).
#ifndef LBSCHED_SRC_LOCALITY_TABLE_H_
#define LBSCHED_SRC_LOCALITY_TABLE_H_

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <utility>
#include <vector>

#include "lbsched/scheduler.h"

namespace lbd::sched_internal {

// Entry must have: uint32_t key; bool used; std::chrono::nanoseconds last_use.
template <typename Entry>
class LocalityTable {
 public:
  static constexpr size_t kInitialCapacity = 1024;
  static constexpr int kFullCheckEvery = 30;  // COUNT_FOR_FULL_EXPIRATION

  // REQUIRES: the locality options are valid (Scheduler::Create checks them).
  explicit LocalityTable(const SchedulerOptions& o)
      : expiration_(o.locality_expiration),
        entry_timeout_(o.locality_entry_timeout),
        check_interval_(o.locality_check_interval),
        soft_limit_(o.locality_soft_limit),
        max_entries_(o.locality_max_entries),
        initial_capacity_(std::min(kInitialCapacity, MaxCapacity(o.locality_max_entries))),
        slots_(initial_capacity_) {}

  // Runs the periodic check when it is due. Call at every pick, before Find.
  void Tick(std::chrono::nanoseconds now) {
    if (!started_) {
      started_ = true;
      next_check_ = now + check_interval_;
      return;
    }
    if (now < next_check_) return;
    const auto missed = (now - next_check_) / check_interval_;
    next_check_ += (missed + 1) * check_interval_;
    counter_ = static_cast<int>(std::min<int64_t>(counter_ + missed, kFullCheckEvery));
    if (counter_ % kFullCheckEvery == 0) {
      Sweep(now, expiration_, SIZE_MAX, /*full=*/true);
      counter_ = 1;
    } else if (used_ <= soft_limit_) {
      ++counter_;
    } else {
      const size_t goal = std::min((used_ - soft_limit_) * 4 / 3, soft_limit_ / 2);
      Sweep(now, entry_timeout_, std::max<size_t>(goal, 1), /*full=*/false);
    }
  }

  // The live entry for `key`, or nullptr (absent or expired at `now`).
  Entry* Find(uint32_t key, std::chrono::nanoseconds now) {
    size_t i = Slot(key);
    while (slots_[i].used) {
      if (slots_[i].key == key) return Expired(slots_[i], now) ? nullptr : &slots_[i];
      i = Next(i);
    }
    return nullptr;
  }

  // The slot for `key`, reset to a fresh Entry{key} when it was absent or
  // expired; callers fill it. nullptr when `key` has no slot and the table
  // holds max_entries entries.
  Entry* Insert(uint32_t key, std::chrono::nanoseconds now) {
    size_t i = Slot(key);
    while (slots_[i].used) {
      if (slots_[i].key == key) {
        if (Expired(slots_[i], now)) Reset(slots_[i], key);
        return &slots_[i];
      }
      i = Next(i);
    }
    if (used_ >= max_entries_) return nullptr;
    if ((used_ + 1) * 2 > slots_.size()) {
      Rebuild(now, /*shrink=*/false);
      if (used_ >= max_entries_) return nullptr;
      i = Slot(key);
      while (slots_[i].used) i = Next(i);
    }
    ++used_;
    Reset(slots_[i], key);
    return &slots_[i];
  }

  size_t size() const { return used_; }
  size_t capacity() const { return slots_.size(); }

 private:
  static size_t MaxCapacity(size_t max_entries) { return std::bit_ceil(2 * max_entries); }

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
  size_t Next(size_t i) const { return (i + 1) & (slots_.size() - 1); }

  // Empties slot i and shifts back the entries after it that probed past it.
  void EraseAt(size_t i) {
    for (size_t j = Next(i); slots_[j].used; j = Next(j)) {
      const size_t home = Slot(slots_[j].key);
      // Entry j may fill the hole at i unless its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      slots_[i] = std::move(slots_[j]);
      i = j;
    }
    slots_[i] = Entry{};
    --used_;
  }

  // Drops up to `goal` entries unused for at least `timeout` (full: for
  // longer than it, the lazy-expiry rule) or expired, scanning every slot
  // once from rover_.
  void Sweep(std::chrono::nanoseconds now, std::chrono::nanoseconds timeout, size_t goal,
             bool full) {
    const size_t cap = slots_.size();
    size_t i = rover_ & (cap - 1);
    for (size_t scanned = 0; scanned < cap && goal > 0;) {
      Entry& e = slots_[i];
      const auto idle = now - e.last_use;
      if (e.used && (full ? idle > timeout : idle >= timeout || Expired(e, now))) {
        EraseAt(i);  // slot i now holds a shifted entry or nothing: look again
        --goal;
        continue;
      }
      i = Next(i);
      ++scanned;
    }
    rover_ = i;
    if (cap > initial_capacity_ && used_ * 8 < cap) Rebuild(now, /*shrink=*/true);
  }

  // Drops expired entries, then sizes the array: doubled while at least half
  // full (growth), or the smallest power of two keeping it at most a quarter
  // full (shrink), never below the initial capacity.
  void Rebuild(std::chrono::nanoseconds now, bool shrink) {
    std::vector<Entry> old;
    old.swap(slots_);
    size_t live = 0;
    for (const Entry& e : old) live += e.used && !Expired(e, now) ? 1 : 0;
    size_t cap = shrink ? initial_capacity_ : old.size();
    while (cap < MaxCapacity(max_entries_) && (shrink ? live * 4 > cap : (live + 1) * 2 > cap)) {
      cap *= 2;
    }
    slots_.assign(cap, Entry{});
    used_ = 0;
    for (Entry& e : old) {
      if (!e.used || Expired(e, now)) continue;
      size_t i = Slot(e.key);
      while (slots_[i].used) i = Next(i);
      slots_[i] = std::move(e);
      ++used_;
    }
  }

  const std::chrono::nanoseconds expiration_;
  const std::chrono::nanoseconds entry_timeout_;
  const std::chrono::nanoseconds check_interval_;
  const size_t soft_limit_;
  const size_t max_entries_;
  const size_t initial_capacity_;
  std::vector<Entry> slots_;  // size is a power of two
  size_t used_ = 0;
  bool started_ = false;
  std::chrono::nanoseconds next_check_{};
  int counter_ = 1;
  size_t rover_ = 0;
};

}  // namespace lbd::sched_internal

#endif  // LBSCHED_SRC_LOCALITY_TABLE_H_
