// Integration tests of shopd: filled in below.
#include <gtest/gtest.h>
