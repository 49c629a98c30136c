// Internal header of lbd_daemon.
//
// The control socket's line protocol (lbctl <-> lbd).
//
// Request: one command per line (LF, an optional CR before it is ignored),
// words separated by blanks:
//   status [--json] | stats [--json] | weight SVC IP:PORT N | drain SVC IP:PORT
//   enable SVC IP:PORT | disable SVC IP:PORT | reload
//   flows [SVC] [--max N] [--json]   (nat/dr/tun flow tables, like ipvsadm -Lnc)
//   add-server SVC IP:PORT [weight N] [max_conns N] | remove-server SVC IP:PORT
//   dump | plan FILE   (FILE: the rest of the line, an absolute path)
// Reply: a status line "OK" or "ERR <message>", then the body lines (never
// empty ones: the text tables have none and JSON is one line), then one empty
// line that ends the reply. Lines longer than kMaxLine bytes are refused with
// an error and the connection is closed.
//
// Thread-safety: plain functions and values.
#ifndef LBD_DAEMON_CONTROL_PROTOCOL_H_
#define LBD_DAEMON_CONTROL_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "lbsched/endpoint.h"
#include "lbsched/status.h"

namespace lbd {

inline constexpr size_t kMaxControlLine = 4096;
// `flows`: flows listed when --max is not given, and the largest --max. The
// cap bounds what one listing costs the control loop: the snapshot of
// 100000 flows takes ~5 ms and ~9 MB (1e6: ~50 ms and ~90 MB, and 0.5 s and
// 80-155 MB more to format at once); lb/README.md has the figures.
inline constexpr size_t kDefaultFlowsListed = 1000;
inline constexpr size_t kMaxFlowsListed = 100000;

struct Command {
  enum class Kind {
    kStatus,
    kStats,
    kWeight,
    kDrain,
    kEnable,
    kDisable,
    kReload,
    kFlows,
    kAddServer,
    kRemoveServer,
    kDump,
    kPlan,
  };
  Kind kind = Kind::kStatus;
  bool json = false;       // status, stats, flows
  std::string service;     // weight, drain, enable, disable, add/remove-server; flows ("" = all)
  Endpoint server;         // weight, drain, enable, disable, add/remove-server
  int weight = 0;          // weight; add-server (default 1)
  uint32_t max_conns = 0;  // add-server
  std::string path;        // plan
  size_t max_flows = kDefaultFlowsListed;  // flows: 1..kMaxFlowsListed
};

// A clear error for an unknown command, a wrong number of arguments, an
// unknown flag, a service name the config would not accept (1..64 letters,
// digits, '_', '-', '.'), a bad IP:PORT, a weight outside 0..65535 or a
// --max outside 1..kMaxFlowsListed. Error messages are printable ASCII: the
// input's other bytes show as '?'.
Result<Command> ParseCommand(std::string_view line);

// The reply framing. `body` may be empty or end with or without a newline;
// empty lines inside it are dropped so they cannot end the reply early.
std::string EncodeReply(const Status& status, std::string_view body);

// What the server sends for one request: `text` (EncodeReply's framing), or,
// for a reply too long to build at once, its beginning in `text` and `more`,
// called as the client drains, each call appending the next part to `out`
// and returning false once it appended the end of the reply (its empty line).
struct ControlReply {
  ControlReply() = default;
  ControlReply(std::string t) : text(std::move(t)) {}  // NOLINT: a whole reply converts
  std::string text;
  std::function<bool(std::string& out)> more;
};

struct Reply {
  bool ok = false;
  std::string error;  // when !ok
  std::string body;   // each line ends with '\n'
};
// Decodes one complete reply (through its terminating empty line); nullopt
// while `text` does not hold one yet, an error when it is malformed.
Result<std::optional<Reply>> DecodeReply(std::string_view text);

// Splits a byte stream into lines, holding at most kMaxControlLine bytes of
// an unfinished line.
class LineSplitter {
 public:
  enum class Next { kLine, kNeedMore, kTooLong };
  void Append(std::string_view bytes) { buffer_.append(bytes); }
  // kLine: `line` is set (without its newline) and consumed.
  Next Pop(std::string* line);

 private:
  std::string buffer_;
};

}  // namespace lbd

#endif  // LBD_DAEMON_CONTROL_PROTOCOL_H_
