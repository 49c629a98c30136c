#include "lbd/daemon/control_protocol.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <vector>

namespace lbd {
namespace {

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

// `s` cut at `max` bytes, every byte outside printable ASCII as '?'.
std::string Printable(std::string_view s, size_t max = 64) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

// A service name as the config allows it (conf's Value::AsName).
bool IsServiceName(std::string_view s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

Status BadServiceName(std::string_view s) {
  return Status::Error("bad service name '" + Printable(s) +
                       "' (expected 1..64 letters, digits, '_', '-' or '.')");
}

}  // namespace

Result<Command> ParseCommand(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> w = Words(line);
  if (w.empty()) return Status::Error("empty command");
  Command cmd;
  std::string_view name = w[0];
  auto usage = [&](const char* u) { return Status::Error(std::string("usage: ") + u); };
  if (name == "status" || name == "stats") {
    cmd.kind = name == "status" ? Command::Kind::kStatus : Command::Kind::kStats;
    for (size_t i = 1; i < w.size(); ++i) {
      if (w[i] != "--json") {
        return Status::Error("unknown option '" + Printable(w[i]) + "' for " + std::string(name));
      }
      cmd.json = true;
    }
    return cmd;
  }
  if (name == "flows") {
    cmd.kind = Command::Kind::kFlows;
    for (size_t i = 1; i < w.size(); ++i) {
      if (w[i] == "--json") {
        cmd.json = true;
      } else if (w[i] == "--max") {
        if (i + 1 >= w.size()) return usage("flows [SVC] [--max N] [--json]");
        std::string_view v = w[++i];
        size_t n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size() || n < 1 || n > kMaxFlowsListed) {
          return Status::Error("bad --max '" + Printable(v) + "': expected 1.." +
                               std::to_string(kMaxFlowsListed));
        }
        cmd.max_flows = n;
      } else if (w[i].substr(0, 1) == "-") {
        return Status::Error("unknown option '" + Printable(w[i]) + "' for flows");
      } else if (cmd.service.empty()) {
        if (!IsServiceName(w[i])) return BadServiceName(w[i]);
        cmd.service = std::string(w[i]);
      } else {
        return usage("flows [SVC] [--max N] [--json]");
      }
    }
    return cmd;
  }
  if (name == "dump") {
    if (w.size() != 1) return usage("dump");
    cmd.kind = Command::Kind::kDump;
    return cmd;
  }
  if (name == "plan") {
    // The path is the rest of the line (it may hold blanks).
    if (w.size() < 2) return usage("plan FILE");
    const size_t at = static_cast<size_t>(w[1].data() - line.data());
    std::string_view rest = line.substr(at);
    while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
    cmd.kind = Command::Kind::kPlan;
    cmd.path = std::string(rest);
    return cmd;
  }
  if (name == "add-server") {
    constexpr const char* kUsage = "add-server SVC IP:PORT [weight N] [max_conns N]";
    if (w.size() < 3 || w.size() % 2 == 0) return usage(kUsage);
    cmd.kind = Command::Kind::kAddServer;
    cmd.weight = 1;
    for (size_t i = 3; i + 1 < w.size(); i += 2) {
      std::string_view v = w[i + 1];
      if (w[i] == "weight") {
        int n = -1;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size() || n < 0 || n > 65535) {
          return Status::Error("bad weight '" + Printable(v) + "': expected 0..65535");
        }
        cmd.weight = n;
      } else if (w[i] == "max_conns") {
        uint32_t n = 0;
        auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc() || p != v.data() + v.size()) {
          return Status::Error("bad max_conns '" + Printable(v) + "': expected 0..4294967295");
        }
        cmd.max_conns = n;
      } else {
        return usage(kUsage);
      }
    }
    w.resize(3);
  } else if (name == "remove-server") {
    if (w.size() != 3) return usage("remove-server SVC IP:PORT");
    cmd.kind = Command::Kind::kRemoveServer;
  }
  if (name == "reload") {
    if (w.size() != 1) return usage("reload");
    cmd.kind = Command::Kind::kReload;
    return cmd;
  }
  size_t want_args = 2;
  const char* u = "";
  if (cmd.kind == Command::Kind::kAddServer || cmd.kind == Command::Kind::kRemoveServer) {
    // arguments checked above
  } else if (name == "weight") {
    cmd.kind = Command::Kind::kWeight;
    want_args = 3;
    u = "weight SVC IP:PORT N";
  } else if (name == "drain") {
    cmd.kind = Command::Kind::kDrain;
    want_args = 2;
    u = "drain SVC IP:PORT";
  } else if (name == "enable") {
    cmd.kind = Command::Kind::kEnable;
    want_args = 2;
    u = "enable SVC IP:PORT";
  } else if (name == "disable") {
    cmd.kind = Command::Kind::kDisable;
    want_args = 2;
    u = "disable SVC IP:PORT";
  } else {
    return Status::Error(
        "unknown command '" + Printable(name) +
        "' (expected status, stats, flows, weight, drain, enable, disable, add-server, "
        "remove-server, reload, dump, plan)");
  }
  if (w.size() != want_args + 1) return usage(u);
  if (!IsServiceName(w[1])) return BadServiceName(w[1]);
  cmd.service = std::string(w[1]);
  auto ep = ParseEndpoint(w[2]);
  if (!ep.ok()) {
    return Status::Error("bad real server '" + Printable(w[2]) +
                         "': " + Printable(ep.status().message(), 200));
  }
  cmd.server = *ep;
  if (cmd.kind == Command::Kind::kWeight) {
    int weight = -1;
    auto [p, ec] = std::from_chars(w[3].data(), w[3].data() + w[3].size(), weight);
    if (ec != std::errc() || p != w[3].data() + w[3].size() || weight < 0 || weight > 65535) {
      return Status::Error("bad weight '" + Printable(w[3]) + "': expected 0..65535");
    }
    cmd.weight = weight;
  }
  return cmd;
}

std::string EncodeReply(const Status& status, std::string_view body) {
  std::string out;
  if (status.ok()) {
    out = "OK\n";
  } else {
    out = "ERR ";
    for (char c : status.message()) out += (c == '\n' || c == '\r') ? ' ' : c;
    out += '\n';
  }
  size_t i = 0;
  while (i < body.size()) {
    size_t nl = body.find('\n', i);
    if (nl == std::string_view::npos) nl = body.size();
    if (nl > i) {
      out.append(body.substr(i, nl - i));
      out += '\n';
    }
    i = nl + 1;
  }
  out += '\n';
  return out;
}

Result<std::optional<Reply>> DecodeReply(std::string_view text) {
  size_t first = text.find('\n');
  if (first == std::string_view::npos) return std::optional<Reply>();
  size_t end = text.find("\n\n", first);
  if (first == 0) return Status::Error("malformed reply: empty status line");
  if (end == std::string_view::npos && text.size() > first + 1) return std::optional<Reply>();
  if (end == std::string_view::npos && text.size() == first + 1) return std::optional<Reply>();
  Reply r;
  std::string_view head = text.substr(0, first);
  if (head == "OK") {
    r.ok = true;
  } else if (head.substr(0, 4) == "ERR ") {
    r.error = std::string(head.substr(4));
  } else {
    return Status::Error("malformed reply: '" + Printable(head) + "'");
  }
  // end points at the '\n' that ends the last body line (or the status line).
  if (end > first) r.body = std::string(text.substr(first + 1, end - first));
  return std::optional<Reply>(std::move(r));
}

LineSplitter::Next LineSplitter::Pop(std::string* line) {
  size_t nl = buffer_.find('\n');
  if (nl == std::string::npos) {
    return buffer_.size() > kMaxControlLine ? Next::kTooLong : Next::kNeedMore;
  }
  if (nl > kMaxControlLine) return Next::kTooLong;
  line->assign(buffer_, 0, nl);
  buffer_.erase(0, nl + 1);
  return Next::kLine;
}

}  // namespace lbd
