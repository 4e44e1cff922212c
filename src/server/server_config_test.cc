#include "server/server_config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

namespace braid::server {
namespace {

std::string WriteConfig(const std::string& text) {
  char tmpl[] = "/tmp/braid-config-XXXXXX";
  int fd = mkstemp(tmpl);
  close(fd);
  std::ofstream(tmpl) << text;
  return tmpl;
}

TEST(ServerConfigTest, FileThenFlagsOverride) {
  auto path = WriteConfig(
      "root = \"/srv/a\"\nlisten = \"127.0.0.1:9000\"\nmax_rate = "
      "\"50mbit\"\nname = \"s1\"\n");
  auto file = LoadServerSettings(path);
  std::remove(path.c_str());
  ASSERT_TRUE(file) << file.error().ToString();
  ServerSettings flags;
  flags.listen = "127.0.0.1:0";
  auto o = ResolveServerOptions(*file, flags);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->root, "/srv/a");
  EXPECT_EQ(o->listen.port, 0);  // the flag won
  EXPECT_EQ(o->max_rate, 6250000u);
  EXPECT_EQ(o->name, "s1");
}

TEST(ServerConfigTest, ClearErrors) {
  auto unknown = WriteConfig("root = \"/x\"\nspeed = \"fast\"\n");
  auto r = LoadServerSettings(unknown);
  std::remove(unknown.c_str());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what.find("unknown key 'speed'"), std::string::npos);

  auto broken = WriteConfig("root = \n");
  EXPECT_FALSE(LoadServerSettings(broken));
  std::remove(broken.c_str());

  auto wrong_type = WriteConfig("root = 5\n");
  EXPECT_FALSE(LoadServerSettings(wrong_type));
  std::remove(wrong_type.c_str());

  EXPECT_FALSE(ResolveServerOptions({}, {}));  // no root
  ServerSettings bad_rate;
  bad_rate.root = "/x";
  bad_rate.max_rate = "lots";
  EXPECT_FALSE(ResolveServerOptions({}, bad_rate));
  ServerSettings bad_listen;
  bad_listen.root = "/x";
  bad_listen.listen = "nowhere";
  EXPECT_FALSE(ResolveServerOptions({}, bad_listen));
}

}  // namespace
}  // namespace braid::server
