#include "catalog.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace lbd::shop {
namespace {

Catalog MakeCatalog(const std::vector<ProductSeed>& seeds) {
  std::vector<Product> products;
  for (size_t i = 0; i < seeds.size(); ++i) {
    products.push_back({static_cast<int64_t>(i + 1), seeds[i].title, seeds[i].price_cents});
  }
  return Catalog(std::move(products));
}

TEST(BuiltinCatalog, DeterministicAndDistinct) {
  std::vector<ProductSeed> a = BuiltinCatalog();
  std::vector<ProductSeed> b = BuiltinCatalog();
  ASSERT_EQ(a.size(), kBuiltinCatalogSize);
  std::set<std::string> titles;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].title, b[i].title);
    EXPECT_EQ(a[i].price_cents, b[i].price_cents);
    EXPECT_GT(a[i].price_cents, 0);
    EXPECT_EQ(a[i].price_cents % 100, 99);
    titles.insert(a[i].title);
  }
  EXPECT_EQ(titles.size(), a.size());
  // Pinned so that a change of the generator is a deliberate one (tests and demos rely on it).
  EXPECT_EQ(a[0].title, "Sturdy Oak Chair");
  EXPECT_EQ(a[299].title, "Rugged Bamboo Mug");
}

TEST(ParseCatalog, ReadsLines) {
  std::string error;
  auto seeds = ParseCatalog("# comment\nRed Mug\t1299\r\n\nBlue\tMug\t5\n", &error);
  ASSERT_TRUE(seeds) << error;
  ASSERT_EQ(seeds->size(), 2u);
  EXPECT_EQ((*seeds)[0].title, "Red Mug");
  EXPECT_EQ((*seeds)[0].price_cents, 1299);
  // The last tab separates the price: titles may contain tabs.
  EXPECT_EQ((*seeds)[1].title, "Blue\tMug");
}

TEST(ParseCatalog, RejectsBadLines) {
  std::string error;
  EXPECT_FALSE(ParseCatalog("Mug 12\n", &error));
  EXPECT_EQ(error, "1: expected title<TAB>price_cents");
  EXPECT_FALSE(ParseCatalog("A\t1\nB\t-3\n", &error));
  EXPECT_EQ(error, "2: price_cents must be a non-negative integer");
  EXPECT_FALSE(ParseCatalog("A\t1x\n", &error));
  EXPECT_FALSE(ParseCatalog("\t5\n", &error));
  EXPECT_FALSE(ParseCatalog("# only a comment\n", &error));
  EXPECT_EQ(error, "no products");
}

TEST(Words, LowerCasesAndSplits) {
  EXPECT_EQ(Words("  Rugged-Oak  LAMP, 2000!"),
            (std::vector<std::string>{"rugged", "oak", "lamp", "2000"}));
  EXPECT_TRUE(Words(" -- ").empty());
}

TEST(Catalog, SliceAndFind) {
  Catalog c = MakeCatalog(BuiltinCatalog());
  EXPECT_EQ(c.size(), 300u);
  auto page = c.Slice(20, 20);
  ASSERT_EQ(page.size(), 20u);
  EXPECT_EQ(page.front()->id, 21);
  EXPECT_EQ(page.back()->id, 40);
  EXPECT_EQ(c.Slice(290, 20).size(), 10u);
  EXPECT_TRUE(c.Slice(300, 20).empty());
  EXPECT_TRUE(c.Slice(100000, 20).empty());
  ASSERT_NE(c.Find(7), nullptr);
  EXPECT_EQ(c.Find(7)->id, 7);
  EXPECT_EQ(c.Find(0), nullptr);
  EXPECT_EQ(c.Find(301), nullptr);
}

TEST(Catalog, SearchIsAndOfWords) {
  Catalog c = MakeCatalog(BuiltinCatalog());
  auto oak_lamps = c.Search("oak LAMP");
  EXPECT_EQ(oak_lamps.size(), 10u);  // one per adjective
  int64_t last = 0;
  for (const Product* p : oak_lamps) {
    EXPECT_NE(p->title.find("Oak"), std::string::npos);
    EXPECT_NE(p->title.find("Lamp"), std::string::npos);
    EXPECT_GT(p->id, last);  // id order
    last = p->id;
  }
  EXPECT_EQ(c.Search("lamp").size(), 50u);
  EXPECT_EQ(c.Search("rugged oak lamp").size(), 1u);
  EXPECT_EQ(c.Search("lamp lamp").size(), 50u);
  EXPECT_TRUE(c.Search("oak unicorn").empty());
  EXPECT_TRUE(c.Search("").empty());
  EXPECT_TRUE(c.Search("la").empty());  // whole words only
}

TEST(Catalog, RepeatedWordInTitleIndexedOnce) {
  Catalog c = MakeCatalog({{"Mug Mug", 1}, {"Mug", 2}});
  EXPECT_EQ(c.Search("mug").size(), 2u);
}

}  // namespace
}  // namespace lbd::shop
