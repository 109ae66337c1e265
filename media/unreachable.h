// ICMP unreachable reports for what a UDP socket sent. A parent whose
// process is gone leaves its port closed, and its host answers a packet to
// it with ICMP port unreachable: a child that reads these learns of the
// death in a round trip instead of waiting out a silence timeout.
//
// Linux gives unconnected UDP sockets these reports only with IP_RECVERR:
// queued on the socket's error queue (read with ReadUnreachable), and also
// left as a pending error that the next send or receive on the socket
// returns in place of its own result (IsReportedError: try that call again).
#ifndef CASCADE_MEDIA_UNREACHABLE_H_
#define CASCADE_MEDIA_UNREACHABLE_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "media/endpoint.h"

namespace cascade::media {

// Turns the reports on for `fd`. The error queue's readiness shows as
// POLLPRI (SO_SELECT_ERR_QUEUE) besides POLLERR, so a libuv poll handle
// watching UV_PRIORITIZED is not stopped by it.
absl::Status ReportUnreachable(int fd);

// Reads up to `max` reports from `fd`'s error queue into *out (cleared
// first): the destinations ICMP reported unreachable (port, host or network).
void ReadUnreachable(int fd, size_t max, std::vector<Endpoint>* out);

// A send or receive failed with `err` because of an earlier packet's report,
// not its own: it may be tried again once.
bool IsReportedError(int err);

}  // namespace cascade::media

#endif  // CASCADE_MEDIA_UNREACHABLE_H_
