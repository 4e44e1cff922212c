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

TEST(ServerConfigTest, MetricsAddress) {
  auto file = ParseServerSettings(
      "root = \"/srv\"\nmetrics = \"127.0.0.1:9464\"\n", "t.toml");
  ASSERT_TRUE(file) << file.error().ToString();
  auto o = ResolveServerOptions(*file, {});
  ASSERT_TRUE(o) << o.error().ToString();
  EXPECT_EQ(o->metrics, "127.0.0.1:9464");
  ServerSettings off;
  off.metrics = "off";
  EXPECT_EQ(ResolveServerOptions(*file, off)->metrics, "");
  ServerSettings bad;
  bad.metrics = "nowhere";
  auto refused = ResolveServerOptions(*file, bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().what.find("metrics:"), std::string::npos);
}

TEST(ServerConfigTest, LiveStreamsFromTheFileAndTheFlags) {
  auto file = ParseServerSettings(
      "root = \"/srv\"\n[live]\ncam = \"/run/cam.fifo\"\nmic = \"/run/mic\"\n",
      "t.toml");
  ASSERT_TRUE(file) << file.error().ToString();
  ServerSettings flags;
  flags.live = {"cam=/run/other", "tv/one=/run/tv"};
  auto o = ResolveServerOptions(*file, flags);
  ASSERT_TRUE(o) << o.error().ToString();
  using Live = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(o->live, (Live{{"cam", "/run/other"},
                           {"mic", "/run/mic"},
                           {"tv/one", "/run/tv"}}));
  for (const char* bad : {"cam", "cam=", "../x=/p", "/abs=/p"}) {
    ServerSettings f;
    f.root = "/srv";
    f.live = {bad};
    EXPECT_FALSE(ResolveServerOptions({}, f)) << bad;
  }
  ServerSettings twice;
  twice.root = "/srv";
  twice.live = {"cam=/a", "cam=/b"};
  auto o2 = ResolveServerOptions({}, twice);
  ASSERT_FALSE(o2);
  EXPECT_NE(o2.error().what.find("twice"), std::string::npos);
  EXPECT_FALSE(ParseServerSettings("live = \"x\"\n", "t.toml"));
  EXPECT_FALSE(ParseServerSettings("[live]\ncam = 3\n", "t.toml"));
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

TEST(ServerConfigTest, MetalinksTakeADirectoryAndMirrorUrls) {
  auto file = ParseServerSettings(
      "root = \"/srv\"\nmetalinks = \"/srv\"\n"
      "mirrors = [\"https://m1.example/pub\", \"http://m2.example/\"]\n",
      "t.toml");
  ASSERT_TRUE(file) << file.error().what;
  auto o = ResolveServerOptions(*file, {});
  ASSERT_TRUE(o) << o.error().what;
  EXPECT_EQ(o->metalinks, "/srv");
  EXPECT_EQ(o->mirrors, (std::vector<std::string>{"https://m1.example/pub",
                                                  "http://m2.example/"}));
  ServerSettings flags;  // the flags' list replaces the file's
  flags.mirrors = {"https://m3.example/"};
  EXPECT_EQ(ResolveServerOptions(*file, flags)->mirrors, flags.mirrors);
  for (const char* text :
       {"root = \"/srv\"\nmirrors = \"https://m.example/\"\n",
        "root = \"/srv\"\nmirrors = [1]\n"}) {
    auto bad = ParseServerSettings(text, "t.toml");
    ASSERT_FALSE(bad) << text;
    EXPECT_NE(bad.error().what.find("list of URLs"), std::string::npos);
  }
  ServerSettings s;
  s.root = "/srv";
  s.metalinks = "/pub";
  auto none = ResolveServerOptions({}, s);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().what.find("at least one --mirror"), std::string::npos);
  s.mirrors = {"ftp://m.example/"};
  EXPECT_FALSE(ResolveServerOptions({}, s));
  s.metalinks.reset();
  s.mirrors = {"https://m.example/"};
  auto alone = ResolveServerOptions({}, s);
  ASSERT_FALSE(alone);
  EXPECT_NE(alone.error().what.find("give --metalinks"), std::string::npos);
}

TEST(ServerConfigTest, CredentialFilesFromTheFileAndTheFlags) {
  auto file = ParseServerSettings(
      "root = \"/srv\"\ndirector = \"10.0.0.1:7071\"\n"
      "access_key_file = \"/etc/braid/access.key\"\n"
      "director_token_file = \"/etc/braid/director.token\"\n",
      "t.toml");
  ASSERT_TRUE(file) << file.error().ToString();
  auto o = ResolveServerOptions(*file, {});
  ASSERT_TRUE(o) << o.error().ToString();
  EXPECT_EQ(o->access_key_file, "/etc/braid/access.key");
  EXPECT_EQ(o->director_token_file, "/etc/braid/director.token");
  ServerSettings flags;
  flags.access_key_file = "/run/other.key";
  EXPECT_EQ(ResolveServerOptions(*file, flags)->access_key_file,
            "/run/other.key");
  // A token for a director that is not there is a mistake.
  ServerSettings lone;
  lone.root = "/srv";
  lone.director_token_file = "/etc/braid/director.token";
  auto bad = ResolveServerOptions({}, lone);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what.find("without a director"), std::string::npos);
}

}  // namespace
}  // namespace braid::server
