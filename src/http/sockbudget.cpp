// http/sockbudget.cpp — see sockbudget.h.  The recv()/read() definitions below replace the C
// library's for the whole process (an executable's symbols come first in the dynamic
// lookup); they forward to the real ones found with dlsym(RTLD_NEXT).
#include "http/sockbudget.h"

#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace ef::http::sockbudget {

namespace {

std::atomic<size_t> g_header_bytes{65536};
std::atomic<size_t> g_body_wire_bytes{2 * 16 * 1024 * 1024 + 65536};
std::atomic<unsigned long long> g_refused{0};

// Trivially constructible: readable from any thread without a TLS initialiser.
struct State {
  bool armed;
  bool cut;     // over budget: every further read of the connection fails
  int fd;       // the connection socket (-1: not seen yet)
  size_t used;  // bytes read in the current phase
  size_t limit;
};
thread_local State t{false, false, -1, 0, 0};

bool is_socket(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

// Before a read of up to n bytes from fd: how many may be read (0 and errno set: refuse).
// Returns n unchanged for reads the budget does not concern.
bool concerned(int fd) {
  if (!t.armed) return false;
  if (t.fd != fd) {
    if (t.fd >= 0 || !is_socket(fd)) return false;
    t.fd = fd;
  }
  return true;
}

ssize_t refuse() {
  if (!t.cut) {
    t.cut = true;
    g_refused.fetch_add(1, std::memory_order_relaxed);
  }
  errno = ECONNRESET;
  return -1;
}

}  // namespace

void configure(size_t header_bytes, size_t body_wire_bytes) {
  g_header_bytes = header_bytes;
  g_body_wire_bytes = body_wire_bytes;
}

void arm_connection() { t = State{true, false, -1, 0, g_header_bytes.load(std::memory_order_relaxed)}; }
void disarm() { t = State{false, false, -1, 0, 0}; }
void enter_body() {
  if (!t.armed || t.cut) return;
  t.used = 0;
  t.limit = g_body_wire_bytes.load(std::memory_order_relaxed);
}
void next_request() {
  if (!t.armed || t.cut) return;
  t.used = 0;
  t.limit = g_header_bytes.load(std::memory_order_relaxed);
}
void close_after_response() {
  if (!t.armed) return;
  t.cut = true;
}
size_t used() { return t.used; }
unsigned long long refused() { return g_refused.load(std::memory_order_relaxed); }

}  // namespace ef::http::sockbudget

using ef::http::sockbudget::t;

namespace {
using recv_fn = ssize_t (*)(int, void*, size_t, int);
using read_fn = ssize_t (*)(int, void*, size_t);

recv_fn real_recv() {
  static recv_fn f = reinterpret_cast<recv_fn>(dlsym(RTLD_NEXT, "recv"));
  return f;
}
read_fn real_read() {
  static read_fn f = reinterpret_cast<read_fn>(dlsym(RTLD_NEXT, "read"));
  return f;
}

template <class F>
ssize_t budgeted(int fd, size_t n, bool peek, F&& call) {
  using namespace ef::http::sockbudget;
  if (!concerned(fd)) return call(n);
  if (t.cut || t.used >= t.limit) return refuse();
  size_t room = t.limit - t.used;
  ssize_t r = call(n < room ? n : room);
  if (r > 0 && !peek) t.used += size_t(r);
  return r;
}
}  // namespace

// The interposed C library functions (see sockbudget.h).
extern "C" ssize_t recv(int fd, void* buf, size_t n, int flags) {
  return budgeted(fd, n, (flags & MSG_PEEK) != 0, [&](size_t m) { return real_recv()(fd, buf, m, flags); });
}

extern "C" ssize_t read(int fd, void* buf, size_t n) {
  return budgeted(fd, n, false, [&](size_t m) { return real_read()(fd, buf, m); });
}
