#include "lbd/daemon/runtime_state.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>

namespace lbd {
namespace {

constexpr std::string_view kHeader = "lbd-state 1";

VirtualServiceConfig* FindService(Config& c, std::string_view name) {
  for (auto& vs : c.virtual_services) {
    if (vs.name == name) return &vs;
  }
  return nullptr;
}

const RealServerConfig* FindServer(const VirtualServiceConfig& vs, Endpoint e) {
  for (const auto& rs : vs.real_servers) {
    if (rs.address == e) return &rs;
  }
  return nullptr;
}

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <typename T>
bool Number(std::string_view text, T min, T max, T* out) {
  T v{};
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < min || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

RuntimeState::Override* RuntimeState::FindOverride(std::string_view service, Endpoint server) {
  for (auto& o : overrides) {
    if (o.service == service && o.server == server) return &o;
  }
  return nullptr;
}

const RuntimeState::Override* RuntimeState::FindOverride(std::string_view service,
                                                         Endpoint server) const {
  for (const auto& o : overrides) {
    if (o.service == service && o.server == server) return &o;
  }
  return nullptr;
}

RuntimeState::Override& RuntimeState::OverrideOf(std::string_view service, Endpoint server) {
  if (Override* o = FindOverride(service, server)) return *o;
  overrides.push_back(Override{std::string(service), server, std::nullopt, 0, false});
  return overrides.back();
}

void RuntimeState::Compact() {
  std::erase_if(overrides, [](const Override& o) { return !o.weight && !o.disabled; });
}

Config Overlay(const Config& file, RuntimeState* state) {
  Config out = file;
  // Removals first (a server the file no longer lists: the record goes).
  std::erase_if(state->removed, [&](const RuntimeState::Removed& r) {
    VirtualServiceConfig* vs = FindService(out, r.service);
    if (vs == nullptr || FindServer(*vs, r.server) == nullptr) return true;
    std::erase_if(vs->real_servers,
                  [&](const RealServerConfig& rs) { return rs.address == r.server; });
    return false;
  });
  std::erase_if(state->added, [&](const RuntimeState::Added& a) {
    VirtualServiceConfig* vs = FindService(out, a.service);
    if (vs == nullptr) return true;
    if (FindServer(*vs, a.server.address) != nullptr) return true;  // the file's line wins
    for (const auto& r : state->removed) {
      if (r.service == a.service && r.server == a.server.address) return true;
    }
    vs->real_servers.push_back(a.server);
    return false;
  });
  for (auto& o : state->overrides) {
    VirtualServiceConfig* vs = FindService(out, o.service);
    const RealServerConfig* rs = vs != nullptr ? FindServer(*vs, o.server) : nullptr;
    if (rs == nullptr) {
      o.weight.reset();
      o.disabled = false;
    } else if (o.weight && rs->weight != o.file_weight) {
      o.weight.reset();  // the file changed that weight since: it wins
    }
  }
  state->Compact();
  return out;
}

std::string FormatStateFile(const RuntimeState& state) {
  std::ostringstream out;
  out << "# lbd runtime state (lbctl changes); written by lbd on every change\n" << kHeader << "\n";
  for (const auto& a : state.added) {
    out << "add " << a.service << " " << ToString(a.server.address) << " weight " << a.server.weight
        << " max_conns " << a.server.max_conns << " min_conns " << a.server.min_conns << "\n";
  }
  for (const auto& r : state.removed) {
    out << "remove " << r.service << " " << ToString(r.server) << "\n";
  }
  for (const auto& o : state.overrides) {
    if (o.weight) {
      out << "weight " << o.service << " " << ToString(o.server) << " " << *o.weight << " file "
          << o.file_weight << "\n";
    }
    if (o.disabled) out << "disable " << o.service << " " << ToString(o.server) << "\n";
  }
  return out.str();
}

Result<RuntimeState> ParseStateFile(std::string_view text, const std::string& path) {
  RuntimeState state;
  bool header = false;
  int number = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(i, nl - i);
    i = nl + 1;
    ++number;
    auto bad = [&](const std::string& why) {
      return Status::Error(path + ":" + std::to_string(number) + ": " + why);
    };
    std::vector<std::string_view> w = Words(line);
    if (w.empty() || w[0].front() == '#') continue;
    if (!header) {
      if (line != kHeader) return bad("expected '" + std::string(kHeader) + "'");
      header = true;
      continue;
    }
    if (w.size() < 3) return bad("expected KIND SERVICE IP:PORT ...");
    const std::string service(w[1]);
    auto server = ParseEndpoint(w[2]);
    if (!server.ok()) return bad(server.status().message());
    if (w[0] == "add" && w.size() == 9 && w[3] == "weight" && w[5] == "max_conns" &&
        w[7] == "min_conns") {
      RealServerConfig rs;
      rs.address = *server;
      if (!Number(w[4], 0, 65535, &rs.weight) ||
          !Number<uint32_t>(w[6], 0, UINT32_MAX, &rs.max_conns) ||
          !Number<uint32_t>(w[8], 0, UINT32_MAX, &rs.min_conns)) {
        return bad("bad number");
      }
      state.added.push_back({service, rs});
    } else if (w[0] == "remove" && w.size() == 3) {
      state.removed.push_back({service, *server});
    } else if (w[0] == "weight" && w.size() == 6 && w[4] == "file") {
      int weight = 0, file_weight = 0;
      if (!Number(w[3], 0, 65535, &weight) || !Number(w[5], 0, 65535, &file_weight)) {
        return bad("bad weight");
      }
      auto& o = state.OverrideOf(service, *server);
      o.weight = weight;
      o.file_weight = file_weight;
    } else if (w[0] == "disable" && w.size() == 3) {
      state.OverrideOf(service, *server).disabled = true;
    } else {
      return bad("unknown record '" + std::string(line.substr(0, 80)) + "'");
    }
  }
  if (!header && !text.empty() &&
      std::any_of(text.begin(), text.end(), [](char c) { return c != '\n' && c != ' '; })) {
    return Status::Error(path + ":1: expected '" + std::string(kHeader) + "'");
  }
  return state;
}

Result<RuntimeState> ReadStateFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return RuntimeState{};
    return Status::Error(path + ":0: cannot read: " + strerror(errno));
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      close(fd);
      return Status::Error(path + ":0: cannot read: " + strerror(err));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (16u << 20)) {
      close(fd);
      return Status::Error(path + ":0: larger than 16 MiB");
    }
  }
  close(fd);
  return ParseStateFile(text, path);
}

Status WriteStateFile(const std::string& path, const RuntimeState& state) {
  const std::string tmp = path + ".tmp";
  const std::string text = FormatStateFile(state);
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Error("open " + tmp + ": " + strerror(errno));
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      close(fd);
      unlink(tmp.c_str());
      return Status::Error("write " + tmp + ": " + strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp.c_str());
    return Status::Error("fsync " + tmp + ": " + strerror(errno));
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    unlink(tmp.c_str());
    return Status::Error("rename " + tmp + " -> " + path + ": " + strerror(err));
  }
  return Status::Ok();
}

}  // namespace lbd
