// The stand-in libcurl functions forward each kind of argument (long,
// pointer, function pointer, curl_off_t) to the library loaded on first use.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

TEST(LibcurlLoaderTest, AnEasyTransferGetsEveryKindOfOption) {
  char path[] = "/tmp/braid-curl-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "0123456789", 10), 10);
  close(fd);
  ASSERT_EQ(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  CURL* easy = curl_easy_init();
  ASSERT_NE(easy, nullptr);
  std::string got;
  std::string url = std::string("file://") + path;
  EXPECT_EQ(curl_easy_setopt(easy, CURLOPT_URL, url.c_str()), CURLE_OK);
  EXPECT_EQ(curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Append), CURLE_OK);
  EXPECT_EQ(curl_easy_setopt(easy, CURLOPT_WRITEDATA, &got), CURLE_OK);
  EXPECT_EQ(curl_easy_setopt(easy, CURLOPT_RESUME_FROM_LARGE,
                             static_cast<curl_off_t>(4)),
            CURLE_OK);
  EXPECT_EQ(curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
  ASSERT_EQ(curl_easy_perform(easy), CURLE_OK);
  EXPECT_EQ(got, "456789");
  curl_off_t size = 0;
  EXPECT_EQ(curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &size), CURLE_OK);
  EXPECT_EQ(size, 6);

  // A long option out of range is refused, as by libcurl itself.
  EXPECT_NE(curl_easy_setopt(easy, CURLOPT_SSLVERSION, 1000L), CURLE_OK);
  EXPECT_STRNE(curl_easy_strerror(CURLE_COULDNT_CONNECT), "");
  curl_easy_cleanup(easy);

  CURLM* multi = curl_multi_init();
  ASSERT_NE(multi, nullptr);
  EXPECT_EQ(curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 2L),
            CURLM_OK);
  EXPECT_EQ(curl_multi_cleanup(multi), CURLM_OK);
  CURLSH* share = curl_share_init();
  ASSERT_NE(share, nullptr);
  EXPECT_EQ(curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE),
            CURLSHE_OK);
  EXPECT_EQ(curl_share_cleanup(share), CURLSHE_OK);
  unlink(path);
}

}  // namespace
