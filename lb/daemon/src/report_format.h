// Private to lbd_daemon's report renderings (status_report*.cc,
// flows_writer.cc).
#ifndef LBD_DAEMON_SRC_REPORT_FORMAT_H_
#define LBD_DAEMON_SRC_REPORT_FORMAT_H_

#include <string>

namespace lbd {

// printf-style append to `out`; longer results than a stack buffer are
// formatted again in place.
void Appendf(std::string& out, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace lbd

#endif  // LBD_DAEMON_SRC_REPORT_FORMAT_H_
