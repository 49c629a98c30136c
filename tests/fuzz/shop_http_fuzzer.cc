// libFuzzer target: shopd's request handling without the HTTP transport
// (examples/shop/shop.h): the query, cookie and form helpers, and
// Shop::Handle() on a scratch database. Input: the first line is
// "METHOD TARGET", the second the Cookie header, the third the
// Idempotency-Key ("-" for none), the rest the body. The database lives in a
// directory under $TMPDIR (default /tmp), removed at exit.
// Properties: no crash; every response body is valid JSON; no request makes
// shopd answer 500 (an internal error is a bug: a client error is 4xx).
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "json.h"
#include "shop.h"

namespace {

std::string_view NextLine(std::string_view* text) {
  const size_t nl = text->find('\n');
  std::string_view line = text->substr(0, nl);
  text->remove_prefix(nl == std::string_view::npos ? text->size() : nl + 1);
  return line;
}

struct ScratchShop {
  ScratchShop() {
    const char* tmp = std::getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/lbd-fuzz-shop-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) std::abort();
    dir = tmpl;
    lbd::shop::ShopOptions options;
    options.db_path = dir + "/shop.db";
    options.new_session_id = [this] { return std::to_string(++sessions) + "abc"; };
    std::string error;
    shop = lbd::shop::Shop::Create(std::move(options), &error);
    if (!shop) {
      std::fprintf(stderr, "shop: %s\n", error.c_str());
      std::abort();
    }
  }
  ~ScratchShop() {
    shop.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::string dir;
  uint64_t sessions = 0;
  std::unique_ptr<lbd::shop::Shop> shop;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ScratchShop scratch;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  (void)lbd::shop::UrlDecode(text);
  (void)lbd::shop::ParseQuery(text);
  (void)lbd::shop::CookieValue(text, "session");

  lbd::shop::Request request;
  const std::string_view first = NextLine(&text);
  const size_t space = first.find(' ');
  request.method = std::string(first.substr(0, space));
  if (space != std::string_view::npos) request.target = std::string(first.substr(space + 1));
  request.cookie = std::string(NextLine(&text));
  const std::string_view key = NextLine(&text);
  if (key != "-") request.idempotency_key = std::string(key);
  request.body = std::string(text);

  const lbd::shop::Response response = scratch.shop->Handle(request);
  if (response.status < 200 || response.status > 599 || response.status == 500) std::abort();
  if (!lbd::shop::ParseJson(response.body)) std::abort();
  return 0;
}
