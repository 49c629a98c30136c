// Test support (not part of lbd): skipping a test whose environment is
// missing (root, CAP_NET_ADMIN, keepalived), unless the run forbids skips.
//
// A developer without root still gets a green run of what can run here; CI
// (root, keepalived installed by scripts/setup) sets LBD_TEST_NO_SKIP=1 so a
// missing requirement fails the test instead of passing the run silently.
//
// Thread-safety: the test's thread only (GTEST_SKIP/GTEST_FAIL return from
// the enclosing function).
#ifndef LBD_TESTS_NETNS_SKIP_H_
#define LBD_TESTS_NETNS_SKIP_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

namespace netns {

// True when the environment says a skip is a failure: LBD_TEST_NO_SKIP set
// to anything but "" or "0".
inline bool SkipsForbidden() {
  const char* v = std::getenv("LBD_TEST_NO_SKIP");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}

}  // namespace netns

// Skips the current test with `reason` unless `condition` holds; with
// LBD_TEST_NO_SKIP=1 the test fails instead. Use in SetUp or a test body.
#define LBD_SKIP_UNLESS(condition, reason)                                           \
  do {                                                                               \
    if (!(condition)) {                                                              \
      if (::netns::SkipsForbidden()) {                                               \
        GTEST_FAIL() << "LBD_TEST_NO_SKIP is set, so this is a failure: " << reason; \
      }                                                                              \
      GTEST_SKIP() << reason;                                                        \
    }                                                                                \
  } while (0)

#endif  // LBD_TESTS_NETNS_SKIP_H_
