#include "client/sources/metalink.h"

#include <gtest/gtest.h>

namespace braid::client {
namespace {

constexpr char kDoc[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<metalink xmlns="urn:ietf:params:xml:ns:metalink">
  <file name="example.iso">
    <size>100</size>
    <hash type="sha-1">a9993e364706816aba3e25717850c26c9cd0d89d</hash>
    <hash type="sha-256">
      ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
    </hash>
    <pieces length="40" type="sha-1">
      <hash>01</hash><hash>02</hash><hash>03</hash>
    </pieces>
    <url priority="2">http://b.example/example.iso</url>
    <url>ftp://c.example/example.iso</url>
    <url location="de" priority="1">https://a.example/example.iso</url>
  </file>
</metalink>)";

TEST(MetalinkTest, ReadsTheFirstFile) {
  auto m = ParseMetalink(kDoc);
  ASSERT_TRUE(m) << m.error().what;
  EXPECT_EQ(m->name, "example.iso");
  EXPECT_EQ(m->size, 100u);
  ASSERT_TRUE(m->sha256);
  EXPECT_EQ(core::ToHex(*m->sha256).substr(0, 8), "ba7816bf");
  EXPECT_EQ(m->urls, (std::vector<std::string>{"https://a.example/example.iso",
                                               "http://b.example/example.iso",
                                               "ftp://c.example/example.iso"}));
  EXPECT_EQ(m->piece_length, 40u);
  EXPECT_EQ(m->pieces.size(), 3u);
  EXPECT_FALSE(ManifestOf(*m));  // sha-1 pieces of 40 bytes: not braid's
}

TEST(MetalinkTest, WhatItWritesReadsBackAsTheManifest) {
  std::vector<core::Digest> pieces(3);
  pieces[1][0] = 1;
  core::Manifest manifest(2 * core::kPieceSize + 10, pieces);
  core::Digest whole{};
  whole[31] = 7;
  auto m = ParseMetalink(WriteMetalink("f.bin", manifest, whole,
                                       {"http://m1/f.bin", "http://m2/f.bin"}));
  ASSERT_TRUE(m) << m.error().what;
  EXPECT_EQ(m->sha256, whole);
  EXPECT_EQ(m->urls.front(), "http://m1/f.bin");
  auto back = ManifestOf(*m);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ContentId(), manifest.ContentId());
}

TEST(MetalinkTest, RefusesWhatItCannotTrust) {
  for (const char* bad :
       {"", "not xml", "<metalink/>", "<other><file name='a'/></other>",
        "<metalink><file name='../etc/passwd'/></metalink>",
        "<metalink><file name=''/></metalink>",
        "<metalink><file name='a'><size>12x</size></file></metalink>",
        "<metalink><file name='a'><size>100</size>"
        "<pieces length='40' type='sha-256'><hash>00</hash></pieces>"
        "</file></metalink>",
        "<metalink><file name='a'><hash type='sha-256'>zz</hash></file>"
        "</metalink>"}) {
    auto m = ParseMetalink(bad);
    EXPECT_FALSE(m) << bad;
    if (!m) {
      EXPECT_EQ(m.error().code, Errc::kMalformed);
    }
  }
}

}  // namespace
}  // namespace braid::client
