// Internal to shopd: products, the built-in catalog, catalog files and the title search index.
//
// A Catalog is built once at start and then only read: it is immutable and safe to share
// between threads without locking.
#ifndef LBD_EXAMPLES_SHOP_CATALOG_H_
#define LBD_EXAMPLES_SHOP_CATALOG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lbd::shop {

struct Product {
  int64_t id = 0;
  std::string title;
  int64_t price_cents = 0;
};

// A new product: title and price, before the database assigns its id.
struct ProductSeed {
  std::string title;
  int64_t price_cents = 0;
};

inline constexpr size_t kBuiltinCatalogSize = 300;

// The default catalog: kBuiltinCatalogSize products, the same on every run and every machine.
std::vector<ProductSeed> BuiltinCatalog();

// Parses a catalog file: one product per line, `title<TAB>price_cents`. Blank lines and lines
// starting with '#' are skipped. On error returns nullopt with "LINE: message" in `error`.
std::optional<std::vector<ProductSeed>> ParseCatalog(std::string_view text, std::string* error);

// The lower-cased alphanumeric words of `text` (everything else separates words), in order.
std::vector<std::string> Words(std::string_view text);

class Catalog {
 public:
  // REQUIRES: ids are unique. Order does not matter; products are kept sorted by id.
  explicit Catalog(std::vector<Product> products);

  size_t size() const { return products_.size(); }
  // Products [offset, offset + count) in id order; fewer (or none) past the end.
  std::vector<const Product*> Slice(size_t offset, size_t count) const;
  const Product* Find(int64_t id) const;
  // Products whose title contains every word of `query` (AND of Words(query)), in id order.
  // A query without words matches nothing.
  std::vector<const Product*> Search(std::string_view query) const;

 private:
  std::vector<Product> products_;                               // sorted by id
  std::unordered_map<int64_t, size_t> by_id_;                   // id -> index in products_
  std::unordered_map<std::string, std::vector<size_t>> index_;  // word -> sorted indexes
};

}  // namespace lbd::shop

#endif  // LBD_EXAMPLES_SHOP_CATALOG_H_
