#include "catalog.h"

#include <algorithm>
#include <charconv>
#include <iterator>

namespace lbd::shop {

std::vector<ProductSeed> BuiltinCatalog() {
  static constexpr std::string_view kAdjectives[] = {"Sturdy",  "Compact", "Classic", "Rustic",
                                                     "Modern",  "Vintage", "Deluxe",  "Portable",
                                                     "Elegant", "Rugged"};
  static constexpr std::string_view kMaterials[] = {"Oak", "Steel", "Wool", "Ceramic", "Bamboo"};
  static constexpr std::string_view kNouns[] = {"Chair",    "Lamp", "Kettle",
                                                "Backpack", "Desk", "Mug"};
  std::vector<ProductSeed> seeds;
  seeds.reserve(kBuiltinCatalogSize);
  // A fixed linear congruential sequence (Numerical Recipes constants) for the prices, so the
  // catalog is identical everywhere without depending on <random>'s distributions.
  uint32_t state = 12345;
  for (std::string_view noun : kNouns) {
    for (std::string_view material : kMaterials) {
      for (std::string_view adjective : kAdjectives) {
        state = state * 1664525u + 1013904223u;
        int64_t price = 199 + static_cast<int64_t>((state >> 8) % 20000);  // $1.99 .. $201.98
        price = price / 100 * 100 + 99;                                    // ends in .99
        std::string title;
        title.append(adjective).append(" ").append(material).append(" ").append(noun);
        seeds.push_back({std::move(title), price});
      }
    }
  }
  return seeds;
}

std::optional<std::vector<ProductSeed>> ParseCatalog(std::string_view text, std::string* error) {
  std::vector<ProductSeed> seeds;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    auto fail = [&](std::string_view message) {
      if (error) *error = std::to_string(line_no) + ": " + std::string(message);
      return std::nullopt;
    };
    size_t tab = line.rfind('\t');
    if (tab == std::string_view::npos) return fail("expected title<TAB>price_cents");
    std::string_view title = line.substr(0, tab);
    std::string_view price_text = line.substr(tab + 1);
    if (title.empty()) return fail("empty title");
    int64_t price = 0;
    auto [end, ec] =
        std::from_chars(price_text.data(), price_text.data() + price_text.size(), price);
    if (ec != std::errc() || end != price_text.data() + price_text.size() || price < 0) {
      return fail("price_cents must be a non-negative integer");
    }
    seeds.push_back({std::string(title), price});
  }
  if (seeds.empty()) {
    if (error) *error = "no products";
    return std::nullopt;
  }
  return seeds;
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum) {
      word += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

Catalog::Catalog(std::vector<Product> products) : products_(std::move(products)) {
  std::sort(products_.begin(), products_.end(),
            [](const Product& a, const Product& b) { return a.id < b.id; });
  for (size_t i = 0; i < products_.size(); ++i) {
    by_id_.emplace(products_[i].id, i);
    std::vector<std::string> words = Words(products_[i].title);
    std::sort(words.begin(), words.end());
    words.erase(std::unique(words.begin(), words.end()), words.end());
    // Indexes are visited in increasing order, so every posting list stays sorted.
    for (std::string& w : words) index_[std::move(w)].push_back(i);
  }
}

std::vector<const Product*> Catalog::Slice(size_t offset, size_t count) const {
  std::vector<const Product*> out;
  for (size_t i = offset; i < products_.size() && i - offset < count; ++i) {
    out.push_back(&products_[i]);
  }
  return out;
}

const Product* Catalog::Find(int64_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &products_[it->second];
}

std::vector<const Product*> Catalog::Search(std::string_view query) const {
  std::vector<std::string> words = Words(query);
  std::vector<const Product*> out;
  if (words.empty()) return out;
  // Intersect the posting lists, shortest first so the running result only shrinks.
  std::vector<const std::vector<size_t>*> lists;
  for (const std::string& w : words) {
    auto it = index_.find(w);
    if (it == index_.end()) return out;
    lists.push_back(&it->second);
  }
  std::sort(lists.begin(), lists.end(),
            [](const auto* a, const auto* b) { return a->size() < b->size(); });
  std::vector<size_t> result = *lists.front();
  for (size_t i = 1; i < lists.size() && !result.empty(); ++i) {
    std::vector<size_t> next;
    std::set_intersection(result.begin(), result.end(), lists[i]->begin(), lists[i]->end(),
                          std::back_inserter(next));
    result = std::move(next);
  }
  for (size_t i : result) out.push_back(&products_[i]);
  return out;
}

}  // namespace lbd::shop
