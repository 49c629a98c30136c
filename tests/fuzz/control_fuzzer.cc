// libFuzzer target: the control socket's line protocol
// (lb/daemon/src/control_protocol.cc). The input is what a client may send
// (split into lines as the server does) and what a server may answer.
// Properties: nothing crashes; LineSplitter never yields a line over
// kMaxControlLine; a reply EncodeReply() built decodes back with the same
// status and error text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lbd/daemon/control_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  // As the server reads it: in two pieces, then line by line.
  lbd::LineSplitter splitter;
  splitter.Append(text.substr(0, size / 2));
  splitter.Append(text.substr(size / 2));
  std::string line;
  for (;;) {
    const lbd::LineSplitter::Next next = splitter.Pop(&line);
    if (next != lbd::LineSplitter::Next::kLine) break;
    if (line.size() > lbd::kMaxControlLine) std::abort();
    (void)lbd::ParseCommand(line);
  }
  (void)lbd::ParseCommand(text);

  // As lbctl reads an answer.
  (void)lbd::DecodeReply(text);

  // Encode, then decode: the same status comes back.
  const size_t cut = size > 0 ? data[0] % (size + 1) : 0;
  const std::string_view message = text.substr(0, cut);
  const std::string_view body = text.substr(cut);
  for (const bool ok : {true, false}) {
    const lbd::Status status = ok ? lbd::Status::Ok() : lbd::Status::Error(std::string(message));
    const std::string encoded = lbd::EncodeReply(status, body);
    auto decoded = lbd::DecodeReply(encoded);
    if (!decoded.ok() || !decoded->has_value() || (*decoded)->ok != ok) std::abort();
  }
  return 0;
}
