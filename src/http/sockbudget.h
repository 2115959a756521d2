// http/sockbudget.h — a byte budget on what one HTTP connection may make a worker thread read
// from its socket, enforced below cpp-httplib at the C library's recv()/read().
//
// Why here: cpp-httplib 0.11 (a compiled Debian library we do not patch) caps each header line
// at 8 KiB but not the number of lines, and keeps every header it reads: one client sending
// header lines for ten seconds made the server hold 1.3 GB.  No callback runs before the header
// block is complete, but every byte it reads comes through recv() (plain sockets) or read()
// (OpenSSL's socket BIO, for TLS).  The executable defines both; they call the C library's
// through dlsym(RTLD_NEXT) and, on a thread the worker pool armed, count the bytes of that
// thread's connection socket (the first socket the thread reads after arming).  Phases:
//   - headers: from arming (connection start, and again after each response) until the request
//     handler starts, at most limits.max_header_bytes (request line, headers, TLS handshake);
//   - body: from the handler's start, at most 2 x limits.max_body_bytes + 64 KiB on the wire
//     (the decoded body is cut at max_body_bytes by the handler's own reader, http/body.h; the
//     slack covers chunk framing, and a declared-too-long body httplib discards).
// Past the budget the wrapper reports a reset connection (ECONNRESET): httplib stops reading,
// answers 400 when it can, and closes.  So one connection holds at most max_header_bytes +
// max_body_bytes plus httplib's 4 KiB read buffer and per-header overhead.  Other threads
// (SQLite, sync, JWKS fetches, the CLI) and unarmed threads pass straight through: one
// thread_local test per call.
#pragma once
#include <cstddef>

namespace ef::http::sockbudget {

// Process-wide budgets (from limits, before serving).
void configure(size_t header_bytes, size_t body_wire_bytes);

// Worker pool: a connection starts / ended on this thread.
void arm_connection();
void disarm();
// Request handler: the header block is complete, the body may follow.
void enter_body();
// After a response: the next request's header block starts.
void next_request();
// The connection is not to be read again (its body was cut mid-stream): the response is
// still written, then the next read fails and httplib closes the connection.
void close_after_response();

// Bytes the current thread's connection read in its current phase (tests, diagnostics).
size_t used();
// Connections cut by the budget since start (metrics).
unsigned long long refused();

}  // namespace ef::http::sockbudget
