#include "lbd/packet/flow_table.h"

namespace lbd {

uint32_t HashFlowKey(const FlowKey& key) {
  uint64_t h = (uint64_t{key.src_ip} << 32) | key.dst_ip;
  h ^= (uint64_t{key.src_port} << 40) ^ (uint64_t{key.dst_port} << 8) ^ key.protocol;
  // splitmix64 finalizer.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<uint32_t>(h);
}

FlowTable::FlowTable(size_t capacity) {
  if (capacity == 0) capacity = 1;
  nodes_.resize(capacity);
  free_.reserve(capacity);
  for (size_t i = capacity; i > 0; --i) free_.push_back(static_cast<uint32_t>(i - 1));
  size_t slots = 4;
  while (slots < capacity * 4) slots <<= 1;
  slots_.resize(slots);
  mask_ = slots - 1;
}

const FlowKey& FlowTable::KeyOf(uint32_t ref) const {
  const FlowEntry& e = nodes_[(ref - 1) >> 1];
  return ((ref - 1) & 1) ? e.reply_key : e.key;
}

size_t FlowTable::FindSlot(const FlowKey& key, uint32_t hash) const {
  // Bounded: the index is never more than half full, so an empty slot ends
  // every probe sequence.
  for (size_t i = hash & mask_, n = 0; n < slots_.size(); i = (i + 1) & mask_, ++n) {
    const Slot& s = slots_[i];
    if (s.ref == 0) break;
    if (s.hash == hash && KeyOf(s.ref) == key) return i;
  }
  return slots_.size();
}

void FlowTable::InsertSlot(uint32_t ref, uint32_t hash) {
  size_t i = hash & mask_;
  while (slots_[i].ref != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{ref, hash};
}

void FlowTable::EraseSlot(const FlowKey& key) {
  size_t i = FindSlot(key, HashFlowKey(key));
  if (i == slots_.size()) return;
  // Backward-shift deletion (Knuth, TAOCP 6.4 Algorithm R): move later
  // members of the cluster into the hole when their home slot allows it.
  size_t j = i;
  for (size_t n = 0; n < slots_.size(); ++n) {
    j = (j + 1) & mask_;
    if (slots_[j].ref == 0) break;
    const size_t home = slots_[j].hash & mask_;
    const bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
    if (movable) {
      slots_[i] = slots_[j];
      i = j;
    }
  }
  slots_[i] = Slot{};
}

FlowEntry* FlowTable::Find(const FlowKey& key, bool* is_reply) {
  const size_t i = FindSlot(key, HashFlowKey(key));
  if (i == slots_.size()) return nullptr;
  const uint32_t ref = slots_[i].ref;
  *is_reply = ((ref - 1) & 1) != 0;
  return &nodes_[(ref - 1) >> 1];
}

FlowEntry* FlowTable::Insert(const FlowKey& key, const FlowKey* reply_key) {
  if (free_.empty()) return nullptr;
  const uint32_t hash = HashFlowKey(key);
  if (FindSlot(key, hash) != slots_.size()) return nullptr;
  uint32_t reply_hash = 0;
  if (reply_key != nullptr) {
    reply_hash = HashFlowKey(*reply_key);
    if (*reply_key == key || FindSlot(*reply_key, reply_hash) != slots_.size()) return nullptr;
  }
  const uint32_t node = free_.back();
  free_.pop_back();
  FlowEntry& e = nodes_[node];
  e = FlowEntry{};
  e.in_use = true;
  e.key = key;
  InsertSlot(node * 2 + 1, hash);
  if (reply_key != nullptr) {
    e.has_reply = true;
    e.reply_key = *reply_key;
    InsertSlot(node * 2 + 2, reply_hash);
  }
  return &e;
}

void FlowTable::Erase(FlowEntry* entry) {
  EraseSlot(entry->key);
  if (entry->has_reply) EraseSlot(entry->reply_key);
  entry->in_use = false;
  free_.push_back(static_cast<uint32_t>(entry - nodes_.data()));
}

}  // namespace lbd
