// Internal to shopd: the shop itself — routes, JSON bodies, carts and orders in SQLite —
// independent of the HTTP transport (server.h feeds it plain Request values).
//
// Thread-safe: Handle() may run on any number of threads at once. Each call borrows its own
// SQLite connection from a pool; cross-thread and cross-process consistency comes from SQLite
// transactions (WAL, BEGIN IMMEDIATE for writes), so several shopd processes can share one
// database file and a cart follows its session cookie from instance to instance.
#ifndef LBD_EXAMPLES_SHOP_SHOP_H_
#define LBD_EXAMPLES_SHOP_SHOP_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog.h"
#include "sqlite.h"

namespace lbd::shop {

inline constexpr size_t kPageSize = 20;
inline constexpr int64_t kMaxQuantity = 1000;
inline constexpr size_t kMaxIdempotencyKeyLength = 255;

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // origin-form: "/products?page=2"
  std::string body;
  std::string cookie;                          // the Cookie header, "" when absent
  std::optional<std::string> idempotency_key;  // the Idempotency-Key header
};

struct Response {
  int status = 200;
  std::string body;                                          // always JSON
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones: Set-Cookie, Allow...
};

struct ShopOptions {
  std::string db_path = "shop.db";
  // Products inserted when the database has none; default: BuiltinCatalog().
  std::optional<std::vector<ProductSeed>> catalog;
  // How long a statement waits for another writer (thread or process) before giving up.
  std::chrono::milliseconds busy_timeout{5000};
  // Returns a fresh session id (lower-case hex); default: 128 bits from std::random_device.
  std::function<std::string()> new_session_id;
};

class Shop {
 public:
  // Opens the database, creates the schema and inserts the catalog if the database has no
  // products yet (atomically: instances starting together on one file insert it once), then
  // builds the search index from what the database holds. nullptr and `error` on failure.
  static std::unique_ptr<Shop> Create(ShopOptions options, std::string* error);

  Response Handle(const Request& request);

  // From now on GET /health answers 503 so that load balancers stop sending new work.
  void StartDraining() { draining_.store(true); }
  bool draining() const { return draining_.load(); }

  const Catalog& catalog() const { return catalog_; }

 private:
  Shop(ShopOptions options, Catalog catalog);

  Response Health();
  Response ListProducts(std::string_view query);
  Response GetProduct(std::string_view id_text);
  Response Search(std::string_view query);
  Response AddToCart(const Request& request);
  Response GetCart(const Request& request);
  Response CreateOrder(const Request& request);
  Response GetOrder(const Request& request, std::string_view id_text);

  // The session named by the request's cookie if the database knows it.
  std::optional<std::string> FindSession(Database& db, const Request& request);

  ShopOptions options_;
  const Catalog catalog_;
  ConnectionPool pool_;
  std::atomic<bool> draining_{false};
};

// Helpers exposed for tests.

// The value of cookie `name` in a Cookie header, or nullopt.
std::optional<std::string> CookieValue(std::string_view header, std::string_view name);
// Decodes application/x-www-form-urlencoded text ('+' is a space); nullopt on a bad escape.
std::optional<std::string> UrlDecode(std::string_view text);
// Decodes a query string ("a=1&b=x+y") into its parameters; a key without '=' maps to "", a
// repeated key keeps its first value. nullopt on a bad escape.
std::optional<std::map<std::string, std::string, std::less<>>> ParseQuery(std::string_view query);

}  // namespace lbd::shop

#endif  // LBD_EXAMPLES_SHOP_SHOP_H_
