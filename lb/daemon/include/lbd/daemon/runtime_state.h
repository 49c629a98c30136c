// Internal header of lbd_daemon.
//
// RuntimeState: what lbctl changed at run time, on top of the file: weights
// (lbctl weight/drain), disables, real servers added (lbctl add-server) and
// removed (lbctl remove-server). The daemon saves it to `global.state_file`
// after every change and restores it at start (like HAProxy's
// server-state-file); reloads keep it, except where the file changed the
// same thing since (Overlay's rules below).
//
// State file (text, one record a line, written whole to a temporary file
// then renamed over the old one):
//   lbd-state 1
//   weight SVC IP:PORT N file W     (W: the file's weight when it was set)
//   disable SVC IP:PORT
//   add SVC IP:PORT weight N max_conns M min_conns L
//   remove SVC IP:PORT
// Blank lines and lines starting with '#' are ignored. A file that cannot be
// read or has a bad line is reported (path and line) and ignored as a whole.
//
// Thread-safety: plain values and pure functions (ReadStateFile and
// WriteStateFile touch only their file).
#ifndef LBD_DAEMON_RUNTIME_STATE_H_
#define LBD_DAEMON_RUNTIME_STATE_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lbd/conf/config.h"
#include "lbsched/status.h"

namespace lbd {

struct RuntimeState {
  struct Override {
    std::string service;
    Endpoint server;
    std::optional<int> weight;  // lbctl weight/drain
    int file_weight = 0;        // the file's weight when `weight` was set
    bool disabled = false;      // lbctl disable
  };
  struct Added {
    std::string service;
    RealServerConfig server;  // address, weight, max_conns, min_conns
  };
  struct Removed {
    std::string service;
    Endpoint server;
  };
  std::vector<Override> overrides;  // only ones with a weight or disabled
  std::vector<Added> added;         // in the order added
  std::vector<Removed> removed;

  bool empty() const { return overrides.empty() && added.empty() && removed.empty(); }
  Override* FindOverride(std::string_view service, Endpoint server);
  const Override* FindOverride(std::string_view service, Endpoint server) const;
  // Creates the record when missing.
  Override& OverrideOf(std::string_view service, Endpoint server);
  // Drops override records that no longer change anything.
  void Compact();
};

// The configuration that runs: `file` with the runtime servers added (after
// the file's, in the order added) and removed. Drops from `state` what the
// file made moot, which is how a reload decides what it keeps:
// - anything of a service the file no longer has;
// - an added server the file now lists itself (the file's line wins);
// - a removed server the file no longer lists (re-adding it to the file
//   brings it back);
// - a weight whose server's file weight is no longer `file_weight` (the
//   file changed that weight: it wins), or whose server is gone;
// - a disable whose server is gone.
Config Overlay(const Config& file, RuntimeState* state);

std::string FormatStateFile(const RuntimeState& state);
// "PATH:LINE: message" for the first bad line.
Result<RuntimeState> ParseStateFile(std::string_view text, const std::string& path);
// A missing file is an empty state, not an error.
Result<RuntimeState> ReadStateFile(const std::string& path);
// Atomic: PATH.tmp written and fsynced, then renamed over PATH.
Status WriteStateFile(const std::string& path, const RuntimeState& state);

}  // namespace lbd

#endif  // LBD_DAEMON_RUNTIME_STATE_H_
