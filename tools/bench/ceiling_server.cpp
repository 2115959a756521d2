// tools/bench/ceiling_server.cpp — the ceiling for `make bench`: a trivial cpp-httplib
// server, set up like edgefhir's (thread pool, TCP_NODELAY, keep-alive), that answers every
// GET with a fixed FHIR JSON body.  edgefhir's read throughput is reported as a ratio to it.
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 18999;
  std::string body = argc > 2 ? argv[2] : "{\"resourceType\":\"Patient\",\"id\":\"x\"}";
  httplib::Server srv;
  srv.set_tcp_nodelay(true);
  srv.set_keep_alive_max_count(1000);
  srv.new_task_queue = [] { return new httplib::ThreadPool(16); };
  srv.Get("/.*", [&](const httplib::Request&, httplib::Response& res) {
    res.set_header("ETag", "W/\"1\"");
    res.set_content(body, "application/fhir+json; charset=utf-8");
  });
  if (!srv.listen("127.0.0.1", port)) {
    std::fprintf(stderr, "ceiling: cannot listen on %d\n", port);
    return 1;
  }
  return 0;
}
