// Header of lbd_sys (internal to lbd: not installed).
//
// The service manager's side channels, spoken directly (no libsystemd):
// - sd_notify(3)'s protocol: one datagram of "KEY=VALUE\n" lines to the
//   AF_UNIX socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract
//   namespace). Without $NOTIFY_SOCKET every call is a no-op that succeeds.
// - journald's stream detection: $JOURNAL_STREAM ("DEV:INODE") names stderr
//   when stderr is connected to the journal.
//
// Thread-safety: reentrant; each call opens, sends and closes its own socket.
#ifndef LBD_SYS_SYSTEMD_H_
#define LBD_SYS_SYSTEMD_H_

#include <string>
#include <string_view>

#include "lbsched/status.h"

namespace lbd {

// Sends `state` (e.g. "READY=1\nSTATUS=serving 2 services") to $NOTIFY_SOCKET.
// An error names the step; nothing is sent when the variable is unset.
Status SdNotify(std::string_view state);

// "RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC now>" (systemd 253's
// Type=notify-reload contract; older systemd ignores MONOTONIC_USEC).
std::string ReloadingState();

// True when stderr is the stream $JOURNAL_STREAM names (lbd runs under
// systemd with its output going to the journal).
bool StderrIsJournal();

}  // namespace lbd

#endif  // LBD_SYS_SYSTEMD_H_
