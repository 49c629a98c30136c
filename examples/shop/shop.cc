#include "shop.h"

#include <charconv>
#include <cstdio>
#include <exception>
#include <random>

#include "json.h"

namespace lbd::shop {

namespace {

// Schema version 1. Products are immutable once inserted; a cart line and an order line refer
// to products by id; an order's prices are copied so later catalog changes cannot alter it.
constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS products(
  id INTEGER PRIMARY KEY,
  title TEXT NOT NULL,
  price_cents INTEGER NOT NULL CHECK (price_cents >= 0));
CREATE TABLE IF NOT EXISTS sessions(
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cart_items(
  session_id TEXT NOT NULL REFERENCES sessions(id),
  product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
  PRIMARY KEY (session_id, product_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS orders(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  idempotency_key TEXT NOT NULL UNIQUE,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  total_cents INTEGER NOT NULL,
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS order_items(
  order_id INTEGER NOT NULL REFERENCES orders(id),
  product_id INTEGER NOT NULL REFERENCES products(id),
  quantity INTEGER NOT NULL,
  price_cents INTEGER NOT NULL,
  PRIMARY KEY (order_id, product_id)) WITHOUT ROWID;
)sql";

constexpr size_t kMaxSessionIdLength = 64;

Response JsonResponse(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response Error(int status, std::string_view message) {
  return JsonResponse(status, JsonError(message));
}

Response MethodNotAllowed(std::string_view allowed) {
  Response r = Error(405, "method not allowed");
  r.headers.emplace_back("Allow", std::string(allowed));
  return r;
}

std::string RandomSessionId() {
  static constexpr char kHex[] = "0123456789abcdef";
  // libstdc++'s random_device reads the kernel CSPRNG (getrandom / /dev/urandom).
  std::random_device rd;
  std::string id;
  for (int i = 0; i < 4; ++i) {
    uint32_t word = rd();
    for (int j = 0; j < 8; ++j, word >>= 4) id += kHex[word & 0xF];
  }
  return id;
}

bool IsSessionId(std::string_view s) {
  if (s.empty() || s.size() > kMaxSessionIdLength) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A positive decimal id without sign or leading zeros.
std::optional<int64_t> ParseId(std::string_view text) {
  if (text.empty() || text.front() == '0') return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v <= 0) return std::nullopt;
  return v;
}

void WriteProduct(JsonWriter& w, const Product& p) {
  w.BeginObject()
      .Key("id")
      .Int(p.id)
      .Key("title")
      .String(p.title)
      .Key("price_cents")
      .Int(p.price_cents)
      .EndObject();
}

void WriteProducts(JsonWriter& w, const std::vector<const Product*>& products) {
  w.Key("products").BeginArray();
  for (const Product* p : products) WriteProduct(w, *p);
  w.EndArray();
}

// {"items":[{"product_id":..,"quantity":..}],"total_cents":..}; the empty cart when `session`
// is nullopt.
std::string RenderCart(Database& db, const std::optional<std::string>& session) {
  JsonWriter w;
  int64_t total = 0;
  w.BeginObject().Key("items").BeginArray();
  if (session) {
    Statement s = db.Prepare(
        "SELECT c.product_id, c.quantity, p.price_cents FROM cart_items c "
        "JOIN products p ON p.id = c.product_id WHERE c.session_id = ? ORDER BY c.product_id");
    s.Bind(1, *session);
    while (s.Step()) {
      w.BeginObject()
          .Key("product_id")
          .Int(s.ColumnInt(0))
          .Key("quantity")
          .Int(s.ColumnInt(1))
          .EndObject();
      total += s.ColumnInt(1) * s.ColumnInt(2);
    }
  }
  w.EndArray().Key("total_cents").Int(total).EndObject();
  return w.Take();
}

// {"id":..,"items":[{"product_id":..,"quantity":..,"price_cents":..}],"total_cents":..}, the
// same bytes every time for the same order. REQUIRES: the order exists.
std::string RenderOrder(Database& db, int64_t id) {
  Statement order = db.Prepare("SELECT total_cents FROM orders WHERE id = ?");
  order.Bind(1, id);
  if (!order.Step()) throw SqliteError(SQLITE_NOTFOUND, "order vanished");
  JsonWriter w;
  w.BeginObject().Key("id").Int(id).Key("items").BeginArray();
  Statement items = db.Prepare(
      "SELECT product_id, quantity, price_cents FROM order_items WHERE order_id = ? "
      "ORDER BY product_id");
  items.Bind(1, id);
  while (items.Step()) {
    w.BeginObject()
        .Key("product_id")
        .Int(items.ColumnInt(0))
        .Key("quantity")
        .Int(items.ColumnInt(1))
        .Key("price_cents")
        .Int(items.ColumnInt(2))
        .EndObject();
  }
  w.EndArray().Key("total_cents").Int(order.ColumnInt(0)).EndObject();
  return w.Take();
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> CookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    size_t semi = header.find(';');
    std::string_view pair = header.substr(0, semi);
    header.remove_prefix(semi == std::string_view::npos ? header.size() : semi + 1);
    while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
    while (!pair.empty() && (pair.back() == ' ' || pair.back() == '\t')) pair.remove_suffix(1);
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view value = pair.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    return std::string(value);
  }
  return std::nullopt;
}

std::optional<std::string> UrlDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = HexValue(text[i + 1]);
      int lo = HexValue(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::map<std::string, std::string, std::less<>>> ParseQuery(std::string_view query) {
  std::map<std::string, std::string, std::less<>> params;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::optional<std::string> key = UrlDecode(pair.substr(0, eq));
    std::optional<std::string> value =
        UrlDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!key || !value) return std::nullopt;
    params.emplace(std::move(*key), std::move(*value));
  }
  return params;
}

std::unique_ptr<Shop> Shop::Create(ShopOptions options, std::string* error) {
  if (!options.new_session_id) options.new_session_id = RandomSessionId;
  try {
    std::unique_ptr<Database> db = Database::Open(options.db_path, options.busy_timeout);
    {
      // Schema and catalog in one write transaction: of several instances starting on the
      // same file, the first inserts the products and the others find them.
      WriteTransaction tx(*db);
      db->Exec(kSchema);
      Statement count = db->Prepare("SELECT COUNT(*) FROM products");
      count.Step();
      if (count.ColumnInt(0) == 0) {
        std::vector<ProductSeed> seeds = options.catalog ? *options.catalog : BuiltinCatalog();
        Statement insert = db->Prepare("INSERT INTO products(title, price_cents) VALUES (?, ?)");
        for (const ProductSeed& seed : seeds) {
          insert.Bind(1, seed.title).Bind(2, seed.price_cents).Run();
          insert.Reset();
        }
      }
      tx.Commit();
    }
    // Index what the database holds, which may come from another instance's catalog.
    std::vector<Product> products;
    Statement all = db->Prepare("SELECT id, title, price_cents FROM products");
    while (all.Step()) products.push_back({all.ColumnInt(0), all.ColumnText(1), all.ColumnInt(2)});
    return std::unique_ptr<Shop>(new Shop(std::move(options), Catalog(std::move(products))));
  } catch (const SqliteError& e) {
    if (error) *error = options.db_path + ": " + e.what();
    return nullptr;
  }
}

Shop::Shop(ShopOptions options, Catalog catalog)
    : options_(std::move(options)),
      catalog_(std::move(catalog)),
      pool_(options_.db_path, options_.busy_timeout) {}

Response Shop::Handle(const Request& request) {
  std::string_view target = request.target;
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  try {
    if (path == "/health") return get ? Health() : MethodNotAllowed("GET");
    if (path == "/products") return get ? ListProducts(query) : MethodNotAllowed("GET");
    if (path.starts_with("/products/")) {
      return get ? GetProduct(path.substr(10)) : MethodNotAllowed("GET");
    }
    if (path == "/search") return get ? Search(query) : MethodNotAllowed("GET");
    if (path == "/cart") return get ? GetCart(request) : MethodNotAllowed("GET");
    if (path == "/cart/items") return post ? AddToCart(request) : MethodNotAllowed("POST");
    if (path == "/orders") return post ? CreateOrder(request) : MethodNotAllowed("POST");
    if (path.starts_with("/orders/")) {
      return get ? GetOrder(request, path.substr(8)) : MethodNotAllowed("GET");
    }
    return Error(404, "no such resource");
  } catch (const SqliteError& e) {
    std::fprintf(stderr, "shopd: %s %s: %s\n", request.method.c_str(), request.target.c_str(),
                 e.what());
    if (e.code() == SQLITE_BUSY || e.code() == SQLITE_LOCKED) {
      Response r = Error(503, "database busy");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
    return Error(500, "database error");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shopd: %s %s: %s\n", request.method.c_str(), request.target.c_str(),
                 e.what());
    return Error(500, "internal error");
  }
}

Response Shop::Health() {
  if (draining()) return JsonResponse(503, R"({"status":"draining"})");
  try {
    ConnectionPool::Lease db = pool_.Acquire();
    Statement s = db->Prepare("SELECT 1 FROM products LIMIT 1");
    s.Step();
  } catch (const SqliteError& e) {
    std::fprintf(stderr, "shopd: health: %s\n", e.what());
    return JsonResponse(503, R"({"status":"unavailable"})");
  }
  return JsonResponse(200, R"({"status":"ok"})");
}

Response Shop::ListProducts(std::string_view query) {
  auto params = ParseQuery(query);
  if (!params) return Error(400, "badly encoded query string");
  int64_t page = 1;
  if (auto it = params->find("page"); it != params->end()) {
    std::optional<int64_t> parsed = ParseId(it->second);
    if (!parsed || *parsed > 1'000'000) return Error(400, "page must be an integer >= 1");
    page = *parsed;
  }
  JsonWriter w;
  w.BeginObject();
  WriteProducts(w, catalog_.Slice(static_cast<size_t>(page - 1) * kPageSize, kPageSize));
  w.Key("page").Int(page).EndObject();
  return JsonResponse(200, w.Take());
}

Response Shop::GetProduct(std::string_view id_text) {
  std::optional<int64_t> id = ParseId(id_text);
  if (!id) return Error(400, "product id must be a positive integer");
  const Product* p = catalog_.Find(*id);
  if (!p) return Error(404, "unknown product");
  JsonWriter w;
  WriteProduct(w, *p);
  return JsonResponse(200, w.Take());
}

Response Shop::Search(std::string_view query) {
  auto params = ParseQuery(query);
  if (!params) return Error(400, "badly encoded query string");
  auto it = params->find("q");
  if (it == params->end() || Words(it->second).empty()) {
    return Error(400, "q must contain at least one word");
  }
  JsonWriter w;
  w.BeginObject();
  WriteProducts(w, catalog_.Search(it->second));
  w.Key("query").String(it->second).EndObject();
  return JsonResponse(200, w.Take());
}

std::optional<std::string> Shop::FindSession(Database& db, const Request& request) {
  std::optional<std::string> id = CookieValue(request.cookie, "session");
  if (!id || !IsSessionId(*id)) return std::nullopt;
  Statement s = db.Prepare("SELECT 1 FROM sessions WHERE id = ?");
  s.Bind(1, *id);
  if (!s.Step()) return std::nullopt;
  return id;
}

Response Shop::AddToCart(const Request& request) {
  std::string parse_error;
  std::optional<JsonValue> body = ParseJson(request.body, &parse_error);
  if (!body) return Error(400, "malformed JSON: " + parse_error);
  if (!body->IsObject()) return Error(400, "expected a JSON object");
  const JsonValue* product_id = body->Find("product_id");
  if (!product_id || !product_id->IsInteger()) {
    return Error(400, "product_id must be an integer");
  }
  int64_t quantity = 1;
  if (const JsonValue* q = body->Find("quantity")) {
    if (!q->IsInteger() || q->AsInt() < 1 || q->AsInt() > kMaxQuantity) {
      return Error(400, "quantity must be an integer from 1 to 1000");
    }
    quantity = q->AsInt();
  }
  if (!catalog_.Find(product_id->AsInt())) return Error(404, "unknown product");

  ConnectionPool::Lease db = pool_.Acquire();
  WriteTransaction tx(*db);
  Response response;
  std::optional<std::string> session = FindSession(*db, request);
  if (!session) {
    session = options_.new_session_id();
    Statement insert =
        db->Prepare("INSERT INTO sessions(id, created_at) VALUES (?, strftime('%s', 'now'))");
    insert.Bind(1, *session).Run();
    response.headers.emplace_back("Set-Cookie",
                                  "session=" + *session + "; Path=/; HttpOnly; SameSite=Lax");
  }
  Statement current =
      db->Prepare("SELECT quantity FROM cart_items WHERE session_id = ? AND product_id = ?");
  current.Bind(1, *session).Bind(2, product_id->AsInt());
  int64_t total_quantity = quantity + (current.Step() ? current.ColumnInt(0) : 0);
  if (total_quantity > kMaxQuantity) {
    return Error(400, "at most 1000 of one product per cart");
  }
  Statement upsert = db->Prepare(
      "INSERT INTO cart_items(session_id, product_id, quantity) VALUES (?, ?, ?) "
      "ON CONFLICT(session_id, product_id) DO UPDATE SET quantity = excluded.quantity");
  upsert.Bind(1, *session).Bind(2, product_id->AsInt()).Bind(3, total_quantity).Run();
  response.body = RenderCart(*db, session);
  tx.Commit();
  return response;
}

Response Shop::GetCart(const Request& request) {
  ConnectionPool::Lease db = pool_.Acquire();
  return JsonResponse(200, RenderCart(*db, FindSession(*db, request)));
}

Response Shop::CreateOrder(const Request& request) {
  if (!request.idempotency_key) return Error(400, "the Idempotency-Key header is required");
  const std::string& key = *request.idempotency_key;
  if (key.empty() || key.size() > kMaxIdempotencyKeyLength) {
    return Error(400, "Idempotency-Key must be 1 to 255 characters");
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7E) return Error(400, "Idempotency-Key must be visible ASCII");
  }

  ConnectionPool::Lease db = pool_.Acquire();
  // BEGIN IMMEDIATE serializes order creation across threads and processes, so the lookup of
  // the key and the insert cannot interleave with another request's; the UNIQUE constraint on
  // idempotency_key is the second line of defence.
  WriteTransaction tx(*db);
  std::optional<std::string> session = FindSession(*db, request);
  Statement existing = db->Prepare("SELECT id, session_id FROM orders WHERE idempotency_key = ?");
  existing.Bind(1, key);
  if (existing.Step()) {
    if (!session || *session != existing.ColumnText(1)) {
      return Error(409, "Idempotency-Key already used by another session");
    }
    Response response = JsonResponse(200, RenderOrder(*db, existing.ColumnInt(0)));
    response.headers.emplace_back("Location", "/orders/" + std::to_string(existing.ColumnInt(0)));
    tx.Commit();
    return response;
  }
  if (!session) return Error(400, "cart is empty");

  struct Line {
    int64_t product_id, quantity, price_cents;
  };
  std::vector<Line> lines;
  int64_t total = 0;
  Statement cart = db->Prepare(
      "SELECT c.product_id, c.quantity, p.price_cents FROM cart_items c "
      "JOIN products p ON p.id = c.product_id WHERE c.session_id = ? ORDER BY c.product_id");
  cart.Bind(1, *session);
  while (cart.Step()) {
    lines.push_back({cart.ColumnInt(0), cart.ColumnInt(1), cart.ColumnInt(2)});
    total += lines.back().quantity * lines.back().price_cents;
  }
  if (lines.empty()) return Error(400, "cart is empty");

  Statement insert_order = db->Prepare(
      "INSERT INTO orders(idempotency_key, session_id, total_cents, created_at) "
      "VALUES (?, ?, ?, strftime('%s', 'now'))");
  insert_order.Bind(1, key).Bind(2, *session).Bind(3, total).Run();
  int64_t order_id = db->LastInsertRowId();
  Statement insert_line = db->Prepare(
      "INSERT INTO order_items(order_id, product_id, quantity, price_cents) VALUES (?, ?, ?, ?)");
  for (const Line& line : lines) {
    insert_line.Bind(1, order_id)
        .Bind(2, line.product_id)
        .Bind(3, line.quantity)
        .Bind(4, line.price_cents)
        .Run();
    insert_line.Reset();
  }
  Statement empty_cart = db->Prepare("DELETE FROM cart_items WHERE session_id = ?");
  empty_cart.Bind(1, *session).Run();
  Response response = JsonResponse(201, RenderOrder(*db, order_id));
  response.headers.emplace_back("Location", "/orders/" + std::to_string(order_id));
  tx.Commit();
  return response;
}

Response Shop::GetOrder(const Request& request, std::string_view id_text) {
  std::optional<int64_t> id = ParseId(id_text);
  if (!id) return Error(400, "order id must be a positive integer");
  ConnectionPool::Lease db = pool_.Acquire();
  std::optional<std::string> session = FindSession(*db, request);
  Statement s = db->Prepare("SELECT session_id FROM orders WHERE id = ?");
  s.Bind(1, *id);
  // Orders are visible to their own session only; to anyone else they do not exist.
  if (!s.Step() || !session || *session != s.ColumnText(0)) return Error(404, "unknown order");
  return JsonResponse(200, RenderOrder(*db, *id));
}

}  // namespace lbd::shop
