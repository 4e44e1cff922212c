// libcurl, loaded when it is first used. The braid program calls libcurl
// only for HTTP mirrors and the director's etcd catalog, yet linking it
// loads some 25 libraries at every start (Kerberos, LDAP, GnuTLS, RTMP, ...
// through Debian's libcurl4): 12 ms of every `braid get` from braid servers,
// more than its first round trip on a near link. These definitions of the
// libcurl functions braid calls stand in for the library's: the first call
// dlopens libcurl (by the soname of the build's) and each forwards to the
// library's own function. libbraid (a shared library an application links)
// links libcurl directly and does not contain this file.
#define CURL_DISABLE_TYPECHECK  // the option-type macros would rename these
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace {

struct Api {
  CURLcode (*global_init)(long);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
  CURLcode (*easy_perform)(CURL*);
  void (*easy_reset)(CURL*);
  void (*easy_cleanup)(CURL*);
  const char* (*easy_strerror)(CURLcode);
  curl_slist* (*slist_append)(curl_slist*, const char*);
  void (*slist_free_all)(curl_slist*);
  CURLM* (*multi_init)();
  CURLMcode (*multi_setopt)(CURLM*, CURLMoption, ...);
  CURLMcode (*multi_add_handle)(CURLM*, CURL*);
  CURLMcode (*multi_remove_handle)(CURLM*, CURL*);
  CURLMcode (*multi_perform)(CURLM*, int*);
  CURLMcode (*multi_poll)(CURLM*, curl_waitfd[], unsigned, int, int*);
  CURLMcode (*multi_wakeup)(CURLM*);
  CURLMsg* (*multi_info_read)(CURLM*, int*);
  CURLMcode (*multi_cleanup)(CURLM*);
  CURLSH* (*share_init)();
  CURLSHcode (*share_setopt)(CURLSH*, CURLSHoption, ...);
  CURLSHcode (*share_cleanup)(CURLSH*);
};

[[noreturn]] void Fail(const char* what) {
  // A broken installation (the package depends on libcurl4): say so once.
  std::fprintf(stderr, "braid: cannot load libcurl (%s): %s\n",
               BRAID_LIBCURL_SONAME, what ? what : "unknown error");
  std::_Exit(1);
}

template <typename F>
void Bind(void* lib, F& f, const char* name) {
  f = reinterpret_cast<F>(::dlsym(lib, name));
  if (!f) Fail(::dlerror());
}

Api LoadApi() {
  void* lib = ::dlopen(BRAID_LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) Fail(::dlerror());
  Api a{};
  Bind(lib, a.global_init, "curl_global_init");
  Bind(lib, a.easy_init, "curl_easy_init");
  Bind(lib, a.easy_setopt, "curl_easy_setopt");
  Bind(lib, a.easy_getinfo, "curl_easy_getinfo");
  Bind(lib, a.easy_perform, "curl_easy_perform");
  Bind(lib, a.easy_reset, "curl_easy_reset");
  Bind(lib, a.easy_cleanup, "curl_easy_cleanup");
  Bind(lib, a.easy_strerror, "curl_easy_strerror");
  Bind(lib, a.slist_append, "curl_slist_append");
  Bind(lib, a.slist_free_all, "curl_slist_free_all");
  Bind(lib, a.multi_init, "curl_multi_init");
  Bind(lib, a.multi_setopt, "curl_multi_setopt");
  Bind(lib, a.multi_add_handle, "curl_multi_add_handle");
  Bind(lib, a.multi_remove_handle, "curl_multi_remove_handle");
  Bind(lib, a.multi_perform, "curl_multi_perform");
  Bind(lib, a.multi_poll, "curl_multi_poll");
  Bind(lib, a.multi_wakeup, "curl_multi_wakeup");
  Bind(lib, a.multi_info_read, "curl_multi_info_read");
  Bind(lib, a.multi_cleanup, "curl_multi_cleanup");
  Bind(lib, a.share_init, "curl_share_init");
  Bind(lib, a.share_setopt, "curl_share_setopt");
  Bind(lib, a.share_cleanup, "curl_share_cleanup");
  return a;
}

const Api& Curl() {
  static const Api api = LoadApi();  // thread-safe, once
  return api;
}

// The variadic setters take one argument whose type the option's number
// range tells (curl.h: CURLOPTTYPE_*; multi and share options likewise).
template <typename Set, typename Handle, typename Option>
auto Forward(Set set, Handle h, Option option, va_list ap) {
  long n = static_cast<long>(option);
  if (n < CURLOPTTYPE_OBJECTPOINT) return set(h, option, va_arg(ap, long));
  if (n < CURLOPTTYPE_FUNCTIONPOINT) return set(h, option, va_arg(ap, void*));
  if (n < CURLOPTTYPE_OFF_T) return set(h, option, va_arg(ap, void (*)()));
  if (n < CURLOPTTYPE_BLOB) return set(h, option, va_arg(ap, curl_off_t));
  return set(h, option, va_arg(ap, void*));
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) { return Curl().global_init(flags); }
CURL* curl_easy_init() { return Curl().easy_init(); }

CURLcode curl_easy_setopt(CURL* h, CURLoption option, ...) {
  va_list ap;
  va_start(ap, option);
  CURLcode rc = Forward(Curl().easy_setopt, h, option, ap);
  va_end(ap);
  return rc;
}

CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
  va_list ap;
  va_start(ap, info);
  void* out = va_arg(ap, void*);  // every CURLINFO_* takes a pointer
  va_end(ap);
  return Curl().easy_getinfo(h, info, out);
}

CURLcode curl_easy_perform(CURL* h) { return Curl().easy_perform(h); }
void curl_easy_reset(CURL* h) { Curl().easy_reset(h); }
void curl_easy_cleanup(CURL* h) { Curl().easy_cleanup(h); }
const char* curl_easy_strerror(CURLcode c) { return Curl().easy_strerror(c); }

curl_slist* curl_slist_append(curl_slist* list, const char* s) {
  return Curl().slist_append(list, s);
}
void curl_slist_free_all(curl_slist* list) { Curl().slist_free_all(list); }

CURLM* curl_multi_init() { return Curl().multi_init(); }

CURLMcode curl_multi_setopt(CURLM* m, CURLMoption option, ...) {
  va_list ap;
  va_start(ap, option);
  CURLMcode rc = Forward(Curl().multi_setopt, m, option, ap);
  va_end(ap);
  return rc;
}

CURLMcode curl_multi_add_handle(CURLM* m, CURL* h) {
  return Curl().multi_add_handle(m, h);
}
CURLMcode curl_multi_remove_handle(CURLM* m, CURL* h) {
  return Curl().multi_remove_handle(m, h);
}
CURLMcode curl_multi_perform(CURLM* m, int* running) {
  return Curl().multi_perform(m, running);
}
CURLMcode curl_multi_poll(CURLM* m, curl_waitfd extra[], unsigned n,
                          int timeout_ms, int* ready) {
  return Curl().multi_poll(m, extra, n, timeout_ms, ready);
}
CURLMcode curl_multi_wakeup(CURLM* m) { return Curl().multi_wakeup(m); }
CURLMsg* curl_multi_info_read(CURLM* m, int* left) {
  return Curl().multi_info_read(m, left);
}
CURLMcode curl_multi_cleanup(CURLM* m) { return Curl().multi_cleanup(m); }

CURLSH* curl_share_init() { return Curl().share_init(); }

CURLSHcode curl_share_setopt(CURLSH* s, CURLSHoption option, ...) {
  va_list ap;
  va_start(ap, option);
  // CURLSHOPT_SHARE/UNSHARE take an int (curl_lock_data), the lock and
  // user-data options a pointer.
  CURLSHcode rc = option == CURLSHOPT_SHARE || option == CURLSHOPT_UNSHARE
                      ? Curl().share_setopt(s, option, va_arg(ap, int))
                      : Curl().share_setopt(s, option, va_arg(ap, void*));
  va_end(ap);
  return rc;
}

CURLSHcode curl_share_cleanup(CURLSH* s) { return Curl().share_cleanup(s); }

}  // extern "C"
