// The shop's routes in-process, on a database in a fresh temporary directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "json.h"
#include "shop.h"
#include "sqlite.h"

namespace lbd::shop {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "shop_unit.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

class ShopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ShopOptions options;
    options.db_path = dir_.File("shop.db");
    options.new_session_id = [this] { return "5e55" + std::to_string(++sessions_made_); };
    std::string error;
    shop_ = Shop::Create(std::move(options), &error);
    ASSERT_TRUE(shop_) << error;
  }

  Response Call(const std::string& method, const std::string& target, std::string body = "",
                std::string cookie = "", std::optional<std::string> key = std::nullopt) {
    Request r{method, target, std::move(body), std::move(cookie), std::move(key)};
    Response response = shop_->Handle(r);
    EXPECT_TRUE(ParseJson(response.body)) << target << ": " << response.body;
    return response;
  }

  static std::string Header(const Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers) {
      if (n == name) return v;
    }
    return "";
  }

  JsonValue Json(const Response& r) { return ParseJson(r.body).value_or(JsonValue()); }

  TempDir dir_;
  int sessions_made_ = 0;
  std::unique_ptr<Shop> shop_;
};

TEST(ShopHelpers, CookieValue) {
  EXPECT_EQ(CookieValue("session=abc", "session"), "abc");
  EXPECT_EQ(CookieValue("a=1; session=abc; b=2", "session"), "abc");
  EXPECT_EQ(CookieValue("xsession=1;session=\"q\"", "session"), "q");
  EXPECT_EQ(CookieValue("a=1", "session"), std::nullopt);
  EXPECT_EQ(CookieValue("", "session"), std::nullopt);
}

TEST(ShopHelpers, UrlDecodeAndQuery) {
  EXPECT_EQ(UrlDecode("oak+lamp%21%2b"), "oak lamp!+");
  EXPECT_EQ(UrlDecode("%"), std::nullopt);
  EXPECT_EQ(UrlDecode("%4"), std::nullopt);
  EXPECT_EQ(UrlDecode("%zz"), std::nullopt);
  auto q = ParseQuery("page=2&q=a+b&flag&&page=9");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->at("page"), "2");
  EXPECT_EQ(q->at("q"), "a b");
  EXPECT_EQ(q->at("flag"), "");
  EXPECT_FALSE(ParseQuery("q=%G0"));
}

TEST_F(ShopTest, CatalogIsSeededOnceAndShared) {
  EXPECT_EQ(shop_->catalog().size(), 300u);
  // A second instance on the same file with another catalog finds the first one's products.
  ShopOptions options;
  options.db_path = dir_.File("shop.db");
  options.catalog = std::vector<ProductSeed>{{"Only Thing", 100}};
  std::string error;
  auto second = Shop::Create(std::move(options), &error);
  ASSERT_TRUE(second) << error;
  EXPECT_EQ(second->catalog().size(), 300u);
}

TEST_F(ShopTest, Products) {
  Response r = Call("GET", "/products?page=3");
  EXPECT_EQ(r.status, 200);
  JsonValue v = Json(r);
  EXPECT_EQ(v.Find("page")->AsInt(), 3);
  ASSERT_EQ(v.Find("products")->size(), 20u);
  EXPECT_EQ(v.Find("products")->At(0)->Find("id")->AsInt(), 41);
  EXPECT_EQ(Call("GET", "/products?page=16").body, R"({"products":[],"page":16})");
  EXPECT_EQ(Call("GET", "/products?page=0").status, 400);
  EXPECT_EQ(Call("GET", "/products?page=-1").status, 400);
  EXPECT_EQ(Call("GET", "/products?page=01").status, 400);
  EXPECT_EQ(Call("GET", "/products/1").body,
            R"({"id":1,"title":"Sturdy Oak Chair","price_cents":)" +
                std::to_string(shop_->catalog().Find(1)->price_cents) + "}");
  EXPECT_EQ(Call("GET", "/products/301").status, 404);
  EXPECT_EQ(Call("GET", "/products/x1").status, 400);
  EXPECT_EQ(Call("GET", "/products/99999999999999999999").status, 400);
}

TEST_F(ShopTest, Routing) {
  EXPECT_EQ(Call("GET", "/nope").status, 404);
  EXPECT_EQ(Call("GET", "/products/").status, 400);
  Response r = Call("DELETE", "/cart");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(Header(r, "Allow"), "GET");
  EXPECT_EQ(Call("GET", "/orders").status, 405);
  EXPECT_EQ(Call("GET", "/health").body, R"({"status":"ok"})");
  shop_->StartDraining();
  r = Call("GET", "/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json(r).Find("status")->AsString(), "draining");
}

TEST_F(ShopTest, CartAccumulatesAndLimitsQuantity) {
  Response r = Call("POST", "/cart/items", R"({"product_id": 5, "quantity": 600})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Header(r, "Set-Cookie"), "session=5e551; Path=/; HttpOnly; SameSite=Lax");
  const std::string cookie = "session=5e551";
  r = Call("POST", "/cart/items", R"({"product_id": 5})", cookie);  // quantity defaults to 1
  EXPECT_EQ(Header(r, "Set-Cookie"), "");
  EXPECT_EQ(Json(r).Find("items")->At(0)->Find("quantity")->AsInt(), 601);
  EXPECT_EQ(Call("POST", "/cart/items", R"({"product_id": 5, "quantity": 400})", cookie).status,
            400);
  EXPECT_EQ(Call("POST", "/cart/items", R"({"product_id": 2, "quantity": 1000})", cookie).status,
            200);
  r = Call("GET", "/cart", "", cookie);
  int64_t expected =
      601 * shop_->catalog().Find(5)->price_cents + 1000 * shop_->catalog().Find(2)->price_cents;
  EXPECT_EQ(r.body,
            R"({"items":[{"product_id":2,"quantity":1000},{"product_id":5,"quantity":601}],)"
            R"("total_cents":)" +
                std::to_string(expected) + "}");
  // Unknown or malformed cookies get an empty cart, and a new session on first write.
  EXPECT_EQ(Call("GET", "/cart", "", "session=ffff").body, R"({"items":[],"total_cents":0})");
  EXPECT_EQ(Call("GET", "/cart", "", "session=../x").body, R"({"items":[],"total_cents":0})");
  r = Call("POST", "/cart/items", R"({"product_id": 1})", "session=ffff");
  EXPECT_EQ(Header(r, "Set-Cookie").substr(0, 14), "session=5e552;");
}

TEST_F(ShopTest, CartRejectsBadBodies) {
  for (const char* body :
       {"", "{", "[]", "{\"product_id\":\"5\"}", "{\"quantity\":1}",
        "{\"product_id\":5,\"quantity\":0}", "{\"product_id\":5,\"quantity\":1001}",
        "{\"product_id\":5,\"quantity\":1.5}", "{\"product_id\":5.0}"}) {
    Response r = Call("POST", "/cart/items", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_TRUE(Json(r).Find("error")) << body;
    EXPECT_EQ(Header(r, "Set-Cookie"), "") << body;
  }
  EXPECT_EQ(Call("POST", "/cart/items", R"({"product_id": 301})").status, 404);
  EXPECT_EQ(Call("POST", "/cart/items", R"({"product_id": -1})").status, 404);
  EXPECT_EQ(sessions_made_, 0);
}

TEST_F(ShopTest, OrdersAreIdempotentAndPrivate) {
  EXPECT_EQ(Call("POST", "/orders", "", "", std::nullopt).status, 400);
  EXPECT_EQ(Call("POST", "/orders", "", "", "k1").status, 400);  // no session: empty cart
  ASSERT_EQ(Call("POST", "/cart/items", R"({"product_id": 3, "quantity": 2})").status, 200);
  const std::string cookie = "session=5e551";
  EXPECT_EQ(Call("POST", "/orders", "", cookie, "").status, 400);
  EXPECT_EQ(Call("POST", "/orders", "", cookie, "has space").status, 400);
  EXPECT_EQ(Call("POST", "/orders", "", cookie, std::string(256, 'k')).status, 400);

  Response first = Call("POST", "/orders", "", cookie, "k1");
  ASSERT_EQ(first.status, 201) << first.body;
  int64_t price = shop_->catalog().Find(3)->price_cents;
  EXPECT_EQ(first.body, R"({"id":1,"items":[{"product_id":3,"quantity":2,"price_cents":)" +
                            std::to_string(price) + R"(}],"total_cents":)" +
                            std::to_string(2 * price) + "}");
  EXPECT_EQ(Header(first, "Location"), "/orders/1");
  EXPECT_EQ(Call("GET", "/cart", "", cookie).body, R"({"items":[],"total_cents":0})");

  Response again = Call("POST", "/orders", "", cookie, "k1");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, first.body);
  EXPECT_EQ(Call("POST", "/orders", "", cookie, "k2").status, 400);  // cart now empty
  EXPECT_EQ(Call("GET", "/orders/1", "", cookie).body, first.body);

  // Another session neither reads the order nor replays its key.
  ASSERT_EQ(Call("POST", "/cart/items", R"({"product_id": 4})").status, 200);
  const std::string other = "session=5e552";
  EXPECT_EQ(Call("GET", "/orders/1", "", other).status, 404);
  EXPECT_EQ(Call("GET", "/orders/1").status, 404);
  EXPECT_EQ(Call("POST", "/orders", "", other, "k1").status, 409);
  Response second = Call("POST", "/orders", "", other, "k3");
  EXPECT_EQ(second.status, 201);
  EXPECT_EQ(Json(second).Find("id")->AsInt(), 2);
  EXPECT_EQ(Call("GET", "/orders/3", "", other).status, 404);
  EXPECT_EQ(Call("GET", "/orders/abc", "", other).status, 400);
}

TEST_F(ShopTest, DatabaseErrorsBecome5xx) {
  // Drop a table behind the shop's back: requests fail with a JSON 500, nothing throws.
  auto db = Database::Open(dir_.File("shop.db"), std::chrono::milliseconds(1000));
  db->Exec("DROP TABLE cart_items");
  Response r = Call("POST", "/cart/items", R"({"product_id": 1})");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, R"({"error":"database error"})");
}

}  // namespace
}  // namespace lbd::shop
