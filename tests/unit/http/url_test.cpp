// tests/unit/http/url_test.cpp — http/url.h: query building and the paging links shared by
// search, history and $everything.
#include <catch2/catch.hpp>

#include "http/url.h"

using namespace ef;

namespace {
std::string link(const std::vector<fhir::BundleLink>& links, const std::string& rel) {
  for (const auto& l : links)
    if (l.relation == rel) return l.url;
  return "";
}
}  // namespace

TEST_CASE("paging_links: self, first, previous, next", "[http][url]") {
  const std::string path = "http://h/Patient";
  const std::vector<std::pair<std::string, std::string>> params = {{"name", "a b"}, {"_count", "2"}};

  auto first_page = http::paging_links(path, params, "", "", "n1");
  REQUIRE(first_page.size() == 2);
  CHECK(first_page[0].relation == "self");
  CHECK(link(first_page, "self") == "http://h/Patient?name=a%20b&_count=2");
  CHECK(link(first_page, "next") == "http://h/Patient?name=a%20b&_count=2&_cursor=n1");
  CHECK(link(first_page, "first").empty());

  auto middle = http::paging_links(path, params, "c1", "p1", "n2");
  REQUIRE(middle.size() == 4);
  CHECK(middle[0].relation == "self");
  CHECK(middle[1].relation == "first");
  CHECK(middle[2].relation == "previous");
  CHECK(middle[3].relation == "next");
  CHECK(link(middle, "self") == "http://h/Patient?name=a%20b&_count=2&_cursor=c1");
  CHECK(link(middle, "first") == "http://h/Patient?name=a%20b&_count=2");
  CHECK(link(middle, "previous") == "http://h/Patient?name=a%20b&_count=2&_cursor=p1");

  auto last_history = http::paging_links(path, params, "c9", "", "", /*with_first=*/false);
  REQUIRE(last_history.size() == 1);
  CHECK(link(last_history, "self") == "http://h/Patient?name=a%20b&_count=2&_cursor=c9");
}
