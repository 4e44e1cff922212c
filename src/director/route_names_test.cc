#include "director/route_names.h"

#include <gtest/gtest.h>

namespace braid::director {
namespace {

TEST(RouteNamesTest, ARouteIsNamedApartFromEveryStream) {
  EXPECT_EQ(RouteName("10.0.0.1:7070"), "/route/10.0.0.1:7070");
  EXPECT_EQ(RouteOrigin(RouteName("10.0.0.1:7070")), "10.0.0.1:7070");
  EXPECT_EQ(RouteOrigin("route/10.0.0.1:7070"), std::nullopt);
  EXPECT_TRUE(ValidEntryName("dir/a.bin"));
  EXPECT_TRUE(ValidEntryName(RouteName("host:1")));
  EXPECT_FALSE(ValidEntryName(RouteName("host")));  // no port
  EXPECT_FALSE(ValidEntryName("/etc/passwd"));      // neither
  EXPECT_FALSE(ValidEntryName("a/../b"));
}

TEST(RouteNamesTest, EachOriginHasAContentIdOfItsOwn) {
  EXPECT_EQ(RouteContentId("a:1"), RouteContentId("a:1"));
  EXPECT_NE(RouteContentId("a:1"), RouteContentId("a:2"));
}

}  // namespace
}  // namespace braid::director
