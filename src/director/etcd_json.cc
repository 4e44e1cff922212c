#include "director/etcd_json.h"

#include <openssl/evp.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace braid::director::etcd {
namespace {

using nlohmann::json;

// gRPC's codes as etcd's gateway reports them.
constexpr int kGrpcNotFound = 5;
constexpr int kGrpcDeadlineExceeded = 4;
constexpr int kGrpcUnavailable = 14;

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

bool Unbase64(std::string_view text, std::string* out) {
  if (text.size() % 4 != 0) return false;
  out->assign(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out->data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return false;
  // EVP_DecodeBlock counts the padding's bytes as zeros.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=')
    pad = text.size() > 1 && text[text.size() - 2] == '=' ? 2 : 1;
  out->resize(static_cast<size_t>(n) - pad);
  return true;
}

Unexpected Malformed(std::string_view what) {
  return MakeError(Errc::kMalformed, "etcd: " + std::string(what));
}

// An int64 the gateway wrote as a decimal string (or a number); absent: 0.
bool ReadInt(const json& j, const char* field, int64_t* out) {
  *out = 0;
  auto it = j.find(field);
  if (it == j.end()) return true;
  if (it->is_number_integer()) {
    *out = it->get<int64_t>();
    return true;
  }
  if (!it->is_string()) return false;
  const auto& s = it->get_ref<const std::string&>();
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc{} && end == s.data() + s.size();
}

bool ReadBytes(const json& j, const char* field, std::string* out) {
  out->clear();
  auto it = j.find(field);
  if (it == j.end()) return true;
  return it->is_string() && Unbase64(it->get_ref<const std::string&>(), out);
}

bool ReadBool(const json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

// The answer as an object, or the error it carries.
Expected<json> Answer(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Malformed("an answer that is not a JSON object");
  auto err = j.find("error");
  if (err == j.end()) return j;
  int64_t code = 0;
  ReadInt(j, "code", &code);
  std::string message = err->is_string() ? err->get<std::string>() : "error";
  Errc e = Errc::kIoError;
  if (code == kGrpcUnavailable || code == kGrpcDeadlineExceeded)
    e = Errc::kUnavailable;
  if (code == kGrpcNotFound) e = Errc::kNotFound;
  return MakeError(e, "etcd: " + message);
}

bool ReadKeyValue(const json& j, KeyValue* kv) {
  return j.is_object() && ReadBytes(j, "key", &kv->key) &&
         ReadBytes(j, "value", &kv->value) &&
         ReadInt(j, "create_revision", &kv->create_revision) &&
         ReadInt(j, "mod_revision", &kv->mod_revision) &&
         ReadInt(j, "lease", &kv->lease);
}

bool ReadRevision(const json& j, int64_t* revision) {
  auto h = j.find("header");
  if (h == j.end() || !h->is_object()) return false;
  return ReadInt(*h, "revision", revision) && *revision > 0;
}

}  // namespace

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& c = reinterpret_cast<unsigned char&>(end.back());
    if (c < 0xff) {
      ++c;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key: etcd's "\0" range end
}

std::string RangeRequest(std::string_view key, std::string_view range_end,
                         int64_t limit, int64_t revision) {
  json j{{"key", Base64(key)}};
  if (!range_end.empty()) j["range_end"] = Base64(range_end);
  if (limit > 0) j["limit"] = std::to_string(limit);
  if (revision > 0) j["revision"] = std::to_string(revision);
  return j.dump();
}

std::string TxnRequest(const std::vector<TxnOp>& ops) {
  json success = json::array();
  for (const auto& op : ops) {
    if (op.kind == TxnOp::Kind::kPut) {
      json put{{"key", Base64(op.key)}, {"value", Base64(op.value)}};
      if (op.lease != 0) put["lease"] = std::to_string(op.lease);
      success.push_back({{"request_put", std::move(put)}});
    } else {
      success.push_back(
          {{"request_delete_range",
            {{"key", Base64(op.key)}, {"range_end", Base64(op.range_end)}}}});
    }
  }
  return json{{"success", std::move(success)}}.dump();
}

std::string LeaseGrantRequest(int64_t ttl_seconds) {
  return json{{"TTL", std::to_string(ttl_seconds)}}.dump();
}

std::string LeaseIdRequest(int64_t id) {
  return json{{"ID", std::to_string(id)}}.dump();
}

std::string LeaseIdsRequest(const std::vector<int64_t>& ids) {
  std::string out;
  for (int64_t id : ids) out += LeaseIdRequest(id) + "\n";
  return out;
}

std::string AuthenticateRequest(std::string_view user,
                                std::string_view password) {
  return json{{"name", user}, {"password", password}}.dump();
}

std::string WatchCreateRequest(std::string_view key, std::string_view range_end,
                               int64_t start_revision) {
  json create{{"key", Base64(key)}};
  if (!range_end.empty()) create["range_end"] = Base64(range_end);
  if (start_revision > 0)
    create["start_revision"] = std::to_string(start_revision);
  return json{{"create_request", std::move(create)}}.dump();
}

Expected<RangeResult> ParseRange(std::string_view body) {
  auto j = Answer(body);
  if (!j) return Unexpected{j.error()};
  RangeResult r;
  if (!ReadRevision(*j, &r.revision)) return Malformed("range without header");
  r.more = ReadBool(*j, "more");
  auto kvs = j->find("kvs");
  if (kvs == j->end()) return r;
  if (!kvs->is_array()) return Malformed("range: kvs is not a list");
  r.kvs.reserve(kvs->size());
  for (const auto& item : *kvs) {
    KeyValue kv;
    if (!ReadKeyValue(item, &kv)) return Malformed("range: a bad key-value");
    r.kvs.push_back(std::move(kv));
  }
  return r;
}

Expected<int64_t> ParseWriteRevision(std::string_view body) {
  auto j = Answer(body);
  if (!j) return Unexpected{j.error()};
  int64_t revision = 0;
  if (!ReadRevision(*j, &revision)) return Malformed("write without header");
  return revision;
}

Expected<LeaseGrant> ParseLeaseGrant(std::string_view body) {
  auto j = Answer(body);
  if (!j) return Unexpected{j.error()};
  LeaseGrant g;
  if (!ReadInt(*j, "ID", &g.id) || !ReadInt(*j, "TTL", &g.ttl_seconds) ||
      g.id == 0)
    return Malformed("lease grant without an ID");
  return g;
}

Expected<std::string> ParseAuthenticate(std::string_view body) {
  auto j = Answer(body);
  if (!j) return Unexpected{j.error()};
  auto token = j->find("token");
  if (token == j->end() || !token->is_string() ||
      token->get<std::string>().empty())
    return Malformed("authentication without a token");
  return token->get<std::string>();
}

Expected<int64_t> ParseKeepAlive(std::string_view body) {
  auto j = Answer(body);
  if (!j) return Unexpected{j.error()};
  auto result = j->find("result");
  if (result == j->end()) return Malformed("keep-alive without a result");
  if (auto s = Answer(result->dump()); !s) return Unexpected{s.error()};
  int64_t ttl = 0;
  if (!ReadInt(*result, "TTL", &ttl)) return Malformed("keep-alive: bad TTL");
  return ttl;
}

Expected<std::vector<std::pair<int64_t, int64_t>>> ParseKeepAlives(
    std::string_view body) {
  std::vector<std::pair<int64_t, int64_t>> out;
  while (!body.empty()) {
    size_t nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
    if (line.empty()) continue;
    auto ttl = ParseKeepAlive(line);
    if (!ttl) return Unexpected{ttl.error()};
    json j = json::parse(line, nullptr, false);
    int64_t id = 0;
    if (!ReadInt(j["result"], "ID", &id) || id == 0)
      return Malformed("keep-alive without an ID");
    out.emplace_back(id, *ttl);
  }
  return out;
}

Expected<WatchMessage> ParseWatchLine(std::string_view line) {
  auto j = Answer(line);
  if (!j) return Unexpected{j.error()};
  auto result = j->find("result");
  if (result == j->end() || !result->is_object())
    return Malformed("watch line without a result");
  WatchMessage m;
  const json& r = *result;
  if (!ReadRevision(r, &m.revision) ||
      !ReadInt(r, "compact_revision", &m.compact_revision))
    return Malformed("watch line without header");
  m.created = ReadBool(r, "created");
  m.canceled = ReadBool(r, "canceled");
  if (auto reason = r.find("cancel_reason");
      reason != r.end() && reason->is_string())
    m.cancel_reason = reason->get<std::string>();
  auto events = r.find("events");
  if (events == r.end()) return m;
  if (!events->is_array()) return Malformed("watch: events is not a list");
  for (const auto& e : *events) {
    WatchEvent ev;
    if (!e.is_object()) return Malformed("watch: a bad event");
    auto type = e.find("type");
    ev.deleted = type != e.end() && type->is_string() && *type == "DELETE";
    auto kv = e.find("kv");
    if (kv == e.end() || !ReadKeyValue(*kv, &ev.kv))
      return Malformed("watch: an event without its key");
    m.events.push_back(std::move(ev));
  }
  return m;
}

}  // namespace braid::director::etcd
