// Routing of the metrics listener (status_page.h): the page, its JSON, the
// 405s and basic auth; /metrics as before. The browser test is
// status_page_test.py.
#include "lbd/daemon/status_page.h"

#include <gtest/gtest.h>

#include <string>

namespace lbd {
namespace {

HttpRoutes Routes(std::string auth = "") {
  HttpRoutes r;
  r.metrics = [] { return std::string("lbd_up 1\n"); };
  r.status_json = [] { return std::string("{\"services\":[]}\n"); };
  r.basic_auth = [auth] { return auth; };
  return r;
}

bool StartsWith(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

TEST(StatusPageTest, ServesThePageTheJsonAndTheMetrics) {
  std::string page = RespondHttp("GET / HTTP/1.1\r\nHost: x\r\n\r\n", Routes());
  EXPECT_TRUE(StartsWith(page, "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"));
  EXPECT_NE(page.find("<title>lbd status</title>"), std::string::npos);
  EXPECT_NE(page.find("Content-Security-Policy: default-src 'none'"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);  // nothing loaded from elsewhere
  EXPECT_EQ(page.find("https://"), std::string::npos);
  std::string json = RespondHttp("GET /status.json?x=1 HTTP/1.0\r\n\r\n", Routes());
  EXPECT_TRUE(StartsWith(json, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
  EXPECT_TRUE(json.ends_with("\r\n\r\n{\"services\":[]}\n"));
  std::string head = RespondHttp("HEAD /status.json HTTP/1.1\r\n\r\n", Routes());
  EXPECT_NE(head.find("\r\nContent-Length: 16\r\n"), std::string::npos);  // as for GET
  EXPECT_TRUE(head.ends_with("\r\n\r\n"));
  EXPECT_EQ(head.find("services"), std::string::npos);
  std::string metrics = RespondHttp("GET /metrics HTTP/1.1\r\n\r\n", Routes());
  EXPECT_TRUE(StartsWith(metrics, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4"));
  EXPECT_TRUE(metrics.ends_with("lbd_up 1\n"));
  EXPECT_TRUE(StartsWith(RespondHttp("GET /x HTTP/1.1\r\n\r\n", Routes()), "HTTP/1.1 404"));
  EXPECT_TRUE(StartsWith(RespondHttp("garbage\r\n\r\n", Routes()), "HTTP/1.1 400"));
  EXPECT_TRUE(StartsWith(RespondHttp("GET / FTP/1.0\r\n\r\n", Routes()), "HTTP/1.1 400"));
}

TEST(StatusPageTest, OnlyGetAndHead) {
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    for (const char* path : {"/", "/status.json"}) {
      std::string r = RespondHttp(std::string(method) + " " + path + " HTTP/1.1\r\n\r\n", Routes());
      EXPECT_TRUE(StartsWith(r, "HTTP/1.1 405 Method Not Allowed\r\n")) << method << path;
      EXPECT_NE(r.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
    }
  }
  EXPECT_TRUE(StartsWith(RespondHttp("POST /metrics HTTP/1.1\r\n\r\n", Routes()), "HTTP/1.1 405"));
}

TEST(StatusPageTest, BasicAuthGuardsThePageButNotTheMetrics) {
  const HttpRoutes routes = Routes("ops:s3:cret");
  // "ops:s3:cret" and "ops:wrong" in base64.
  const std::string good = "Authorization: Basic b3BzOnMzOmNyZXQ=\r\n";
  const std::string bad = "authorization:   basic b3BzOndyb25n\r\n";
  for (const char* path : {"/", "/status.json"}) {
    const std::string line = std::string("GET ") + path + " HTTP/1.1\r\n";
    std::string none = RespondHttp(line + "\r\n", routes);
    EXPECT_TRUE(StartsWith(none, "HTTP/1.1 401 Unauthorized\r\n"));
    EXPECT_NE(none.find("\r\nWWW-Authenticate: Basic realm=\"lbd status\""), std::string::npos);
    EXPECT_TRUE(StartsWith(RespondHttp(line + bad + "\r\n", routes), "HTTP/1.1 401"));
    EXPECT_TRUE(
        StartsWith(RespondHttp(line + "Host: x\r\n" + good + "\r\n", routes), "HTTP/1.1 200 OK"));
  }
  EXPECT_TRUE(StartsWith(RespondHttp("GET /metrics HTTP/1.1\r\n\r\n", routes), "HTTP/1.1 200"));
}

TEST(StatusPageTest, BasicAuthMatchesOnlyTheExactCredentials) {
  EXPECT_TRUE(BasicAuthMatches("GET / HTTP/1.1\r\nAuthorization: Basic YTpi\r\n\r\n", "a:b"));
  EXPECT_TRUE(BasicAuthMatches("GET / HTTP/1.1\nAuthorization: Basic YTpi\n\n", "a:b"));
  EXPECT_FALSE(BasicAuthMatches("GET / HTTP/1.1\r\nAuthorization: Basic YTpiYw==\r\n\r\n", "a:b"));
  EXPECT_FALSE(BasicAuthMatches("GET / HTTP/1.1\r\nAuthorization: Basic YQ==\r\n\r\n", "a:b"));
  EXPECT_FALSE(BasicAuthMatches("GET / HTTP/1.1\r\nAuthorization: Bearer YTpi\r\n\r\n", "a:b"));
  EXPECT_FALSE(BasicAuthMatches("GET / HTTP/1.1\r\nAuthorization: Basic YT!i\r\n\r\n", "a:b"));
  EXPECT_FALSE(BasicAuthMatches("GET / HTTP/1.1\r\n\r\nAuthorization: Basic YTpi\r\n", "a:b"));
  EXPECT_FALSE(BasicAuthMatches("GET / HTTP/1.1\r\n\r\n", "a:b"));
}

}  // namespace
}  // namespace lbd
