// `vrrp:` instances (keepalived's vrrp_instance, RFC 3768 for version 2 and
// RFC 5798 for version 3).
#include <charconv>
#include <set>

#include "sections.h"

namespace lbd::conf_internal {
namespace {

constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ minus the NUL
constexpr size_t kMaxAuthPass = 8;        // RFC 2338 §5.3.10: 8 octets of simple text
constexpr int kMaxTrackWeight = 254;      // keepalived's track weight range -254..254
// RFC 3768 §5.3.7: Adver Int is 8 bits of seconds.
constexpr Duration kV2MaxAdvert = std::chrono::seconds(255);
// RFC 5798 §5.2.7: Max Adver Int is 12 bits of centiseconds.
constexpr Duration kV3MaxAdvert = Duration(4095 * 10);

// "a.b.c.d/len", len 1..32; normalized ("192.0.2.1/24").
std::optional<std::string> ReadPrefix(const Value& value) {
  auto text = value.AsString();
  if (!text) return std::nullopt;
  size_t slash = text->find('/');
  auto ip = ParseIpv4(std::string_view(*text).substr(0, slash));
  int length = -1;
  if (slash != std::string::npos) {
    const char* begin = text->data() + slash + 1;
    const char* end = text->data() + text->size();
    auto [next, ec] = std::from_chars(begin, end, length);
    if (ec != std::errc() || next != end || begin == end) length = -1;
  }
  if (!ip.ok() || length < 1 || length > 32) {
    value.Error("expected an address with a prefix length such as 192.0.2.100/24, got '" + *text +
                "'");
    return std::nullopt;
  }
  return Ipv4ToString(ip->ip) + "/" + std::to_string(length);
}

void ReadAdvertInterval(const MapReader& map, int version, Duration* out) {
  Duration interval;
  if (!map.ReadDuration("advert_interval", &interval, Duration(1))) return;
  const Value value = *map.Get("advert_interval");
  if (version == 2 && (interval.count() % 1000 != 0 || interval > kV2MaxAdvert)) {
    value.Error("VRRP version 2 advertises whole seconds up to 255s (RFC 3768 5.3.7)");
    return;
  }
  if (version == 3 && (interval.count() % 10 != 0 || interval > kV3MaxAdvert)) {
    value.Error(
        "VRRP version 3 advertises centiseconds up to 40950ms (RFC 5798 5.2.7): use a "
        "multiple of 10ms");
    return;
  }
  *out = interval;
}

void ReadTrack(const Value& value, const std::set<std::string, std::less<>>& services,
               VrrpInstanceConfig::Track* out) {
  MapReader map(value, {"service", "weight"});
  if (!map.is_map()) return;
  if (auto service = map.Require("service")) {
    if (auto name = service->AsString()) {
      if (services.count(*name)) {
        out->service = *name;
      } else {
        std::string known;
        for (const std::string& s : services) known += (known.empty() ? "" : ", ") + s;
        service->Error("unknown service '" + *name +
                       "' (virtual services: " + (known.empty() ? "none" : known) + ")");
      }
    }
  }
  map.Read("weight", &out->weight, -kMaxTrackWeight, kMaxTrackWeight);
}

void ReadInstance(const Value& value, const std::set<std::string, std::less<>>& services,
                  UniqueSet* names, UniqueSet* routers, UniqueSet* virtual_ips,
                  VrrpInstanceConfig* out) {
  MapReader map(value,
                {"name", "interface", "virtual_router_id", "priority", "version", "advert_interval",
                 "preempt", "preempt_delay", "auth_pass", "virtual_ips", "unicast_peers", "notify",
                 "notify_master", "notify_backup", "notify_fault", "track_services"});
  out->mark = value.mark();
  if (!map.is_map()) return;
  if (auto name = map.Require("name")) {
    if (auto text = name->AsName()) {
      out->name = *text;
      names->Insert(*text, *name, "VRRP instance name");
    }
  }
  bool interface_known = false;
  if (auto interface = map.Require("interface")) {
    if (auto text = interface->AsString()) {
      if (text->size() > kMaxInterfaceName) {
        interface->Error("interface name '" + *text + "' is longer than 15 characters");
      } else {
        out->interface = *text;
        interface_known = true;
      }
    }
  }
  if (auto vrid = map.Require("virtual_router_id")) {
    if (auto id = vrid->AsInt(1, 255)) {
      out->virtual_router_id = static_cast<int>(*id);
      // Two instances with one VRID on one link would fight over one MAC.
      if (interface_known) {
        routers->Insert(std::to_string(*id) + " on " + out->interface, *vrid, "virtual_router_id");
      }
    }
  }
  map.Read("priority", &out->priority, 1, 255);
  bool version_known = true;
  if (auto version = map.Get("version")) {
    auto v = version->AsInt(2, 3);
    if (v) out->version = static_cast<int>(*v);
    version_known = v.has_value();
  }
  if (version_known) ReadAdvertInterval(map, out->version, &out->advert_interval);
  map.Read("preempt", &out->preempt);
  map.ReadDuration("preempt_delay", &out->preempt_delay, Duration(0));
  if (map.Read("auth_pass", &out->auth_pass)) {
    if (version_known && out->version != 2) {
      map.Reject("auth_pass", "only VRRP version 2 has authentication (RFC 5798 removed it)");
    } else if (out->auth_pass.size() > kMaxAuthPass) {
      map.Get("auth_pass")->Error("is longer than 8 characters");
    }
  }
  if (auto ips = map.Get("virtual_ips")) {
    // Across instances too: two routers must not both own an address.
    for (const Value& item : ips->Items()) {
      if (auto prefix = ReadPrefix(item)) {
        if (virtual_ips->Insert(prefix->substr(0, prefix->find('/')), item, "virtual IP")) {
          out->virtual_ips.push_back(*prefix);
        }
      }
    }
  }
  if (auto peers = map.Get("unicast_peers")) {
    UniqueSet seen;
    for (const Value& item : peers->Items()) {
      if (auto ip = item.AsIpv4()) {
        if (seen.Insert(Ipv4ToString(*ip), item, "unicast peer")) {
          out->unicast_peers.push_back(Ipv4ToString(*ip));
        }
      }
    }
  }
  map.Read("notify", &out->notify);
  map.Read("notify_master", &out->notify_master);
  map.Read("notify_backup", &out->notify_backup);
  map.Read("notify_fault", &out->notify_fault);
  if (auto tracks = map.Get("track_services")) {
    UniqueSet seen;
    for (const Value& item : tracks->Items()) {
      VrrpInstanceConfig::Track track;
      ReadTrack(item, services, &track);
      if (!track.service.empty() && seen.Insert(track.service, item, "tracked service")) {
        out->track_services.push_back(std::move(track));
      }
    }
  }
}

}  // namespace

void ReadVrrp(const Value& value, const std::vector<VirtualServiceConfig>& services,
              std::vector<VrrpInstanceConfig>* out) {
  std::set<std::string, std::less<>> service_names;
  for (const VirtualServiceConfig& s : services) {
    if (!s.name.empty()) service_names.insert(s.name);
  }
  UniqueSet names;
  UniqueSet routers;
  UniqueSet virtual_ips;
  for (const Value& item : value.Items()) {
    VrrpInstanceConfig instance;
    ReadInstance(item, service_names, &names, &routers, &virtual_ips, &instance);
    out->push_back(std::move(instance));
  }
}

}  // namespace lbd::conf_internal
