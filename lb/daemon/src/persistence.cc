#include "lbd/daemon/persistence.h"

namespace lbd {

std::shared_ptr<RealServer> PersistenceTable::Lookup(uint32_t client_ip, Nanos now) {
  if (!enabled()) return nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(client_ip);
  if (it == entries_.end()) return nullptr;
  if (it->second.expires <= now) {
    entries_.erase(it);
    return nullptr;
  }
  const auto& rs = it->second.server;
  if (!rs->available() || rs->weight() <= 0) return nullptr;
  return rs;
}

void PersistenceTable::Record(uint32_t client_ip, const std::shared_ptr<RealServer>& server,
                              Nanos now) {
  Nanos timeout = this->timeout();
  if (timeout.count() <= 0 || !server) return;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = entries_[client_ip];
  e.server = server;
  e.expires = now + timeout;
}

void PersistenceTable::Touch(uint32_t client_ip, Nanos now) {
  Nanos timeout = this->timeout();
  if (timeout.count() <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(client_ip);
  if (it != entries_.end() && it->second.expires < now + timeout)
    it->second.expires = now + timeout;
}

size_t PersistenceTable::Expire(Nanos now) {
  std::lock_guard<std::mutex> lock(mu_);
  return std::erase_if(entries_, [&](const auto& kv) { return kv.second.expires <= now; });
}

size_t PersistenceTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::vector<std::pair<uint32_t, Endpoint>> PersistenceTable::Entries(Nanos now) const {
  std::vector<std::pair<uint32_t, Endpoint>> out;
  std::lock_guard<std::mutex> lock(mu_);
  out.reserve(entries_.size());
  for (const auto& [client, e] : entries_) {
    if (e.expires > now) out.emplace_back(client, e.server->endpoint());
  }
  return out;
}

}  // namespace lbd
