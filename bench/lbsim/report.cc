#include "report.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lbd::lbsim {
namespace {

std::string Fmt(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

std::string Ms(double seconds) { return Fmt("%.2f", seconds * 1e3); }
std::string Pct(double fraction) { return fraction < 0 ? "-" : Fmt("%.1f", fraction * 100); }

// The first failure event's remap, else the first event's, else none.
const RemapResult* MainRemap(const SimResult& r) {
  for (const RemapResult& m : r.remaps) {
    if (m.what.rfind("fail ", 0) == 0) return &m;
  }
  return r.remaps.empty() ? nullptr : &r.remaps.front();
}

// Columns padded to their widest cell; the first column left-aligned.
std::string Align(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const size_t pad = width[c] - row[c].size();
      if (c == 0) {
        line += row[c] + std::string(pad, ' ');
      } else {
        line += "  " + std::string(pad, ' ') + row[c];
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Num(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

std::string FormatTable(const Workload& w, const RunInfo& info,
                        const std::vector<SimResult>& results) {
  std::string out = "workload " + w.name + " (" + w.source + "): " + std::to_string(info.requests) +
                    " requests per scheduler, seed " + std::to_string(info.seed) +
                    ", mean arrival rate " + Fmt("%.1f", info.mean_rate) + "/s\n";
  if (!w.description.empty()) out += "  " + w.description + "\n";
  out += "\n";
  bool any_cache = std::any_of(results.begin(), results.end(),
                               [](const SimResult& r) { return r.hit_rate >= 0; });
  bool any_remap = std::any_of(results.begin(), results.end(), [](const SimResult& r) {
    const RemapResult* m = MainRemap(r);
    return m != nullptr && m->moved >= 0;
  });
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head = {"sched",    "req/s", "mean ms",  "p50 ms", "p99 ms",
                                   "p99.9 ms", "imbal", "rejected", "dropped"};
  if (any_cache) head.push_back("hit%");
  if (any_remap) head.push_back("moved%");
  rows.push_back(head);
  for (const SimResult& r : results) {
    std::vector<std::string> row = {r.scheduler,
                                    Fmt("%.1f", r.throughput),
                                    Ms(r.mean),
                                    Ms(r.p50),
                                    Ms(r.p99),
                                    Ms(r.p999),
                                    Fmt("%.2f", r.imbalance),
                                    std::to_string(r.rejected),
                                    std::to_string(r.dropped)};
    if (any_cache) row.push_back(Pct(r.hit_rate));
    if (any_remap) {
      const RemapResult* m = MainRemap(r);
      row.push_back(m != nullptr ? Pct(m->moved) : "-");
    }
    rows.push_back(row);
  }
  out += Align(rows);
  if (results.empty()) return out;

  out += "\nload share % / utilisation % per server (weight, slots)\n";
  rows.clear();
  head = {"sched"};
  for (const ServerResult& s : results.front().servers) {
    head.push_back(s.name + " (w" + std::to_string(s.weight) + ",c" + std::to_string(s.capacity) +
                   ")");
  }
  rows.push_back(head);
  for (const SimResult& r : results) {
    std::vector<std::string> row = {r.scheduler};
    for (const ServerResult& s : r.servers) {
      row.push_back(Fmt("%.1f", s.share * 100) + " / " + Fmt("%.0f", s.utilisation * 100));
    }
    rows.push_back(row);
  }
  out += Align(rows);

  if (any_remap) {
    out +=
        "\nclient->server mappings moved by each event (hashing schedulers; probe of up to "
        "20000 flows; unserved: no server)\n";
    for (const SimResult& r : results) {
      for (const RemapResult& m : r.remaps) {
        if (m.moved < 0) continue;
        out += "  " + r.scheduler + std::string(6 - std::min<size_t>(6, r.scheduler.size()), ' ') +
               Fmt("%8.2fs  ", m.at) + m.what + ": moved " + Pct(m.moved) + "%, unserved " +
               Pct(m.unserved) + "%\n";
      }
    }
  }
  return out;
}

std::string FormatCsv(const std::vector<SimResult>& results) {
  std::string out =
      "scheduler,requests,completed,rejected,dropped,queued_while_idle,duration_s,"
      "throughput_rps,mean_s,p50_s,p99_s,p999_s,max_s,imbalance,hit_rate,moved";
  if (!results.empty()) {
    for (const ServerResult& s : results.front().servers) out += ",share_" + s.name;
    for (const ServerResult& s : results.front().servers) out += ",util_" + s.name;
  }
  out += "\n";
  for (const SimResult& r : results) {
    const RemapResult* m = MainRemap(r);
    out += r.scheduler + "," + std::to_string(r.requests) + "," + std::to_string(r.completed) +
           "," + std::to_string(r.rejected) + "," + std::to_string(r.dropped) + "," +
           std::to_string(r.queued_while_idle) + "," + Num(r.duration) + "," + Num(r.throughput) +
           "," + Num(r.mean) + "," + Num(r.p50) + "," + Num(r.p99) + "," + Num(r.p999) + "," +
           Num(r.max) + "," + Num(r.imbalance) + "," + (r.hit_rate >= 0 ? Num(r.hit_rate) : "") +
           "," + (m != nullptr && m->moved >= 0 ? Num(m->moved) : "");
    // append(), not out += "," + Num(...): GCC 12's -Wrestrict misfires on the latter at -O3.
    for (const ServerResult& s : r.servers) out.append(1, ',').append(Num(s.share));
    for (const ServerResult& s : r.servers) out.append(1, ',').append(Num(s.utilisation));
    out += "\n";
  }
  return out;
}

std::string FormatJson(const Workload& w, const RunInfo& info,
                       const std::vector<SimResult>& results) {
  std::ostringstream o;
  o << "{\n  \"workload\": " << JsonString(w.name) << ",\n  \"source\": " << JsonString(w.source)
    << ",\n  \"seed\": " << info.seed << ",\n  \"requests\": " << info.requests
    << ",\n  \"mean_rate\": " << Num(info.mean_rate) << ",\n  \"results\": [";
  for (size_t i = 0; i < results.size(); ++i) {
    const SimResult& r = results[i];
    o << (i ? "," : "") << "\n    {\"scheduler\": " << JsonString(r.scheduler)
      << ", \"requests\": " << r.requests << ", \"completed\": " << r.completed
      << ", \"rejected\": " << r.rejected << ", \"dropped\": " << r.dropped
      << ", \"queued_while_idle\": " << r.queued_while_idle << ", \"duration\": " << Num(r.duration)
      << ", \"throughput\": " << Num(r.throughput)
      << ",\n     \"response_time\": {\"mean\": " << Num(r.mean) << ", \"p50\": " << Num(r.p50)
      << ", \"p99\": " << Num(r.p99) << ", \"p999\": " << Num(r.p999) << ", \"max\": " << Num(r.max)
      << "},\n     \"imbalance\": " << Num(r.imbalance)
      << ", \"hit_rate\": " << (r.hit_rate >= 0 ? Num(r.hit_rate) : "null")
      << ",\n     \"servers\": [";
    for (size_t k = 0; k < r.servers.size(); ++k) {
      const ServerResult& s = r.servers[k];
      o << (k ? ", " : "") << "{\"name\": " << JsonString(s.name) << ", \"weight\": " << s.weight
        << ", \"capacity\": " << s.capacity << ", \"assigned\": " << s.assigned
        << ", \"share\": " << Num(s.share) << ", \"utilisation\": " << Num(s.utilisation)
        << ", \"hits\": " << s.hits << ", \"misses\": " << s.misses << "}";
    }
    o << "],\n     \"events\": [";
    for (size_t k = 0; k < r.remaps.size(); ++k) {
      const RemapResult& m = r.remaps[k];
      o << (k ? ", " : "") << "{\"at\": " << Num(m.at) << ", \"what\": " << JsonString(m.what)
        << ", \"moved\": " << (m.moved >= 0 ? Num(m.moved) : "null")
        << ", \"unserved\": " << (m.unserved >= 0 ? Num(m.unserved) : "null") << "}";
    }
    o << "],\n     \"cdf\": [";
    for (size_t k = 0; k < r.cdf.size(); ++k) o << (k ? ", " : "") << Num(r.cdf[k]);
    o << "],\n     \"timeline\": [";
    for (size_t k = 0; k < r.timeline.size(); ++k) {
      const TimelinePoint& p = r.timeline[k];
      o << (k ? ", " : "") << "[" << Num(p.t) << ", " << p.count << ", " << Num(p.mean) << ", "
        << Num(p.p99) << "]";
    }
    o << "]}";
  }
  o << "\n  ]\n}\n";
  return o.str();
}

std::string PlotStyle(size_t i) {
  // 15 colours readable on white; dash types 1..5 and point types 1..15 of
  // the cairo terminals. Past 15 the colours and points repeat with another
  // dash type.
  static constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                                            "#000000", "#aec7e8", "#98df8a", "#ff9896", "#c5b0d5"};
  constexpr size_t kCount = sizeof(kColors) / sizeof(kColors[0]);
  std::ostringstream o;
  o << "lc rgb '" << kColors[i % kCount] << "' dt " << (i + i / kCount) % 5 + 1 << " pt "
    << i % kCount + 1;
  return o.str();
}

namespace {

// PlotStyle() without the point type, which bars do not take.
std::string BarStyle(size_t i) {
  std::string style = PlotStyle(i);
  return style.substr(0, style.find(" pt "));
}

}  // namespace

std::string PlotScript(const Workload& w, const std::vector<SimResult>& results,
                       const std::string& dir) {
  std::ostringstream g;
  g << "set terminal pngcairo size 720,420 font 'sans,9'\n"
    << "set termoption noenhanced\nset datafile commentschars '#'\n"
    << "set key outside right top\nset grid\nset format x '%g'\nset format y '%g'\n";
  // 1. Latency CDF. Points on the lines (8 per line) tell them apart where
  // colours do not.
  g << "set output '" << dir << "/latency_cdf.png'\n"
    << "set title 'Response time CDF (" << w.name << ")'\n"
    << "set xlabel 'response time (ms, log scale)'\nset ylabel 'fraction of requests'\n"
    << "set logscale x\nset xrange [0.1:*]\nset yrange [0:1]\nplot ";
  for (size_t i = 0; i < results.size(); ++i) {
    g << (i ? ", " : "") << "'" << dir << "/latency_cdf.dat' index " << i
      << " using 1:2 with linespoints pn 8 lw 2 " << PlotStyle(i) << " title '"
      << results[i].scheduler << "'";
  }
  g << "\nunset logscale x\nset xrange [*:*]\n";
  // 2. Load share per server.
  g << "set output '" << dir << "/load_share.png'\n"
    << "set title 'Load share per server (" << w.name << ")'\n"
    << "set xlabel 'server'\nset ylabel 'share of requests (%)'\nset yrange [0:*]\n"
    << "set style data histograms\nset style histogram clustered gap 1\n"
    << "set style fill pattern border -1\nset boxwidth 0.9\nplot ";
  for (size_t i = 0; i < results.size(); ++i) {
    g << (i ? ", " : "") << "'" << dir << "/load_share.dat' using " << i + 2
      << (i == 0 ? ":xtic(1)" : "") << " fs pattern " << i % 8 << " " << BarStyle(i) << " title '"
      << results[i].scheduler << "'";
  }
  g << "\nset style data lines\n";
  // 3. Response time over time, with the events marked; linear from 0, so
  // that a spike reads at its true size against the baseline.
  g << "set output '" << dir << "/timeline.png'\n"
    << "set title 'p99 response time over time (" << w.name << ")'\n"
    << "set xlabel 'time (s)'\nset ylabel 'p99 response time (ms)'\nset yrange [0:*]\n";
  int arrow = 1;
  for (const RemapResult& m : results.front().remaps) {
    g << "set arrow " << arrow++ << " from " << Num(m.at) << ", graph 0 to " << Num(m.at)
      << ", graph 1 nohead dt 2 lc rgb 'gray40'\n";
    g << "set label " << arrow << " '" << m.what << "' at " << Num(m.at)
      << ", graph 0.97 offset 0.5,0 font 'sans,8'\n";
  }
  g << "plot ";
  for (size_t i = 0; i < results.size(); ++i) {
    g << (i ? ", " : "") << "'" << dir << "/timeline.dat' index " << i
      << " using 1:3 with linespoints pn 8 lw 1.5 " << PlotStyle(i) << " title '"
      << results[i].scheduler << "'";
  }
  g << "\n";
  return g.str();
}

Status WritePlots(const Workload& w, const std::vector<SimResult>& results,
                  const std::string& dir) {
  if (results.empty()) return Status::Error("nothing to plot");
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::Error("cannot create " + dir + ": " + std::strerror(errno));
  }
  // Data files: one column block per scheduler.
  {
    std::ofstream cdf(dir + "/latency_cdf.dat");
    for (const SimResult& r : results) {
      cdf << "# " << r.scheduler << "\n";
      for (size_t k = 0; k < r.cdf.size(); ++k) {
        cdf << Num(r.cdf[k] * 1e3) << " " << Num(static_cast<double>(k) / (r.cdf.size() - 1))
            << "\n";
      }
      cdf << "\n\n";
    }
    std::ofstream share(dir + "/load_share.dat");
    share << "server";
    for (const SimResult& r : results) share << " " << r.scheduler;
    share << "\n";
    for (size_t s = 0; s < results.front().servers.size(); ++s) {
      share << results.front().servers[s].name;
      for (const SimResult& r : results) share << " " << Num(r.servers[s].share * 100);
      share << "\n";
    }
    std::ofstream tl(dir + "/timeline.dat");
    for (const SimResult& r : results) {
      tl << "# " << r.scheduler << "\n";
      for (const TimelinePoint& p : r.timeline) {
        if (p.count > 0)
          tl << Num(p.t) << " " << Num(p.mean * 1e3) << " " << Num(p.p99 * 1e3) << "\n";
      }
      tl << "\n\n";
    }
    if (!cdf || !share || !tl) return Status::Error("cannot write data files in " + dir);
  }
  const std::string script = PlotScript(w, results, dir);
  std::FILE* p = ::popen("gnuplot 1>&2", "w");
  if (p == nullptr)
    return Status::Error("cannot run gnuplot: " + std::string(std::strerror(errno)));
  std::fwrite(script.data(), 1, script.size(), p);
  int status = ::pclose(p);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status::Error(
        "gnuplot failed (is gnuplot installed? scripts/setup installs gnuplot-nox); its input "
        "is left in " +
        dir);
  }
  for (const char* f : {"/latency_cdf.dat", "/load_share.dat", "/timeline.dat"}) {
    std::remove((dir + f).c_str());
  }
  return Status::Ok();
}

}  // namespace lbd::lbsim
