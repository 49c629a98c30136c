// `lbctl flows`: the flow lists like `ipvsadm -Lnc`, or JSON, part by part.
#include <cinttypes>
#include <cstdio>

#include "lbd/daemon/status_report.h"
#include "report_format.h"

namespace lbd {

FlowsWriter::FlowsWriter(std::vector<PacketReport> packet, bool json, size_t max)
    : packet_(std::move(packet)), json_(json), max_(max) {}

bool FlowsWriter::Next(std::string& out) {
  if (!started_) {
    started_ = true;
    // ipvsadm.c print_conn(): "%-3s %02d:%02d  %-11s %-18s %-18s %s".
    out += json_ ? "{\"flows\":["
                 : "IPVS connection entries\n"
                   "pro expire state       source             virtual            destination\n";
    return true;
  }
  for (size_t n = 0; n < kFlowsPerPart && service_ < packet_.size();) {
    const PacketReport& p = packet_[service_];
    if (flow_ == p.flow_list.size()) {
      ++service_;
      flow_ = 0;
      continue;
    }
    const FlowReport& f = p.flow_list[flow_++];
    if (json_) {
      Appendf(
          out,
          "%s{\"service\":%s,\"protocol\":\"%s\",\"client\":%s,\"virtual\":%s,"
          "\"server\":%s,\"state\":%s,\"expires\":%" PRId64 "}",
          listed_ > 0 ? "," : "", JsonString(p.name).c_str(), f.protocol.c_str(),
          JsonString(ToString(f.client)).c_str(), JsonString(ToString(f.virtual_address)).c_str(),
          JsonString(ToString(f.server)).c_str(), JsonString(f.state).c_str(), f.expires_seconds);
    } else {
      Appendf(out, "%-3s %02" PRId64 ":%02" PRId64 "  %-11s %-18s %-18s %s\n", f.protocol.c_str(),
              f.expires_seconds / 60, f.expires_seconds % 60, f.state.c_str(),
              ToString(f.client).c_str(), ToString(f.virtual_address).c_str(),
              ToString(f.server).c_str());
    }
    ++listed_;
    ++n;
  }
  if (service_ < packet_.size()) return true;
  uint64_t total = 0;
  for (const auto& p : packet_) total += p.flows;
  if (json_) {
    Appendf(out, "],\"total\":%" PRIu64 ",\"listed\":%" PRIu64 "}\n", total, listed_);
  } else if (listed_ < total) {
    Appendf(out, "(%" PRIu64 " more flows not listed; --max %zu)\n", total - listed_, max_);
  }
  return false;
}

std::string FormatFlowsText(const std::vector<PacketReport>& packet, size_t max) {
  FlowsWriter w(packet, /*json=*/false, max);
  std::string out;
  while (w.Next(out)) {
  }
  return out;
}

std::string FormatFlowsJson(const std::vector<PacketReport>& packet) {
  FlowsWriter w(packet, /*json=*/true, 0);
  std::string out;
  while (w.Next(out)) {
  }
  return out;
}

}  // namespace lbd
