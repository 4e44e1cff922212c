#include "proxy/proxy.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/stream_name.h"
#include "net/log_fields.h"
#include "proxy/content_type.h"
#include "proxy/gated_server.h"
#include "proxy/http_range.h"
#include "proxy/request_token.h"
#include "proxy/stream_job.h"

namespace braid::proxy {
namespace {

// How often a body writer waiting for the transfer checks its client.
constexpr auto kPoll = std::chrono::milliseconds(500);

int HttpStatusOf(const Error& e) {
  switch (e.code) {
    case Errc::kNotFound:
      return 404;
    case Errc::kForbiddenPath:
      return 400;
    default:
      return 502;  // the sources failed us
  }
}

void Plain(httplib::Response& res, int status, const std::string& text) {
  res.status = status;
  res.set_content(text + "\n", "text/plain");
}

// Hands httplib the next queued bytes of the body. False ends the
// response: the client left, or the transfer failed (the client then sees
// a body shorter than Content-Length, or a chunked body without its end).
// A chunked body (a live stream) ends with done() when the stream ends.
bool Feed(StreamJob& job, httplib::DataSink& sink, prometheus::Counter& sent,
          bool chunked = false) {
  std::vector<uint8_t> chunk;
  for (;;) {
    switch (job.queue().Next(chunk, kPoll)) {
      case BodyQueue::Pop::kData:
        if (!sink.write(reinterpret_cast<const char*>(chunk.data()),
                        chunk.size()))
          return false;
        sent.Increment(static_cast<double>(chunk.size()));
        job.Written(chunk.size());
        return true;
      case BodyQueue::Pop::kTimeout:
        if (sink.is_writable && !sink.is_writable()) return false;
        continue;
      case BodyQueue::Pop::kEnd:
        if (!chunked) return false;
        sink.done();
        return true;
      case BodyQueue::Pop::kFailed:
        return false;
    }
  }
}

// A live stream (unknown length, no ranges): joined at its live edge, or at
// its start with ?from=start.
void SetLiveBody(const httplib::Request& req, std::shared_ptr<Session> session,
                 const std::string& type, size_t queue_bytes,
                 StreamJob::OnEnd on_end, prometheus::Counter& sent,
                 httplib::Response& res) {
  res.status = 200;
  res.set_header("Accept-Ranges", "none");
  res.set_header("Cache-Control", "no-store");
  FetchOptions fetch;
  fetch.live_edge = req.get_param_value("from") != "start";
  if (req.method == "HEAD") {
    return res.set_chunked_content_provider(
        type, [](size_t, httplib::DataSink& sink) {
          sink.done();
          return true;
        });
  }
  auto job = std::make_shared<StreamJob>(std::move(session), std::move(fetch),
                                         queue_bytes, std::move(on_end));
  res.set_chunked_content_provider(
      type,
      [job, &sent](size_t, httplib::DataSink& sink) {
        return Feed(*job, sink, sent, /*chunked=*/true);
      },
      [job](bool) { job->Cancel(); });
}

// The body: length bytes of the session's stream (fetch.range, when set),
// streamed from a fetch of its own; for a HEAD only its length.
// The answer's status and headers go when the body's first bytes are
// ready (httplib sends them after the handler returns): a fetch that fails
// before its first byte, within first_byte_wait, is answered with its error
// (502), never with a 200 and a short body.
void SetBody(bool head, std::shared_ptr<Session> session, FetchOptions fetch,
             uint64_t length, const std::string& type, size_t queue_bytes,
             std::chrono::milliseconds first_byte_wait, StreamJob::OnEnd on_end,
             prometheus::Counter& sent, httplib::Response& res) {
  if (length == 0) return res.set_content("", type);
  if (head) {
    // httplib sends the headers (Content-Length included), never the body.
    return res.set_content_provider(
        length, type, [](size_t, size_t, httplib::DataSink&) { return false; });
  }
  auto job = std::make_shared<StreamJob>(std::move(session), std::move(fetch),
                                         queue_bytes, std::move(on_end));
  if (auto e = job->queue().FailedBeforeData(first_byte_wait)) {
    res.headers.clear();
    return Plain(res, HttpStatusOf(*e), e->ToString());
  }
  res.set_content_provider(
      length, type,
      [job, &sent](size_t, size_t, httplib::DataSink& sink) {
        return Feed(*job, sink, sent);
      },
      // httplib 0.11.4 passes false always: what was written tells.
      [job, length](bool) {
        if (job->written() < length) job->Cancel();
      });
}

httplib::Server::HandlerResponse OnlyGetAndHead(const httplib::Request& req,
                                                httplib::Response& res) {
  if (req.method == "GET" || req.method == "HEAD")
    return httplib::Server::HandlerResponse::Unhandled;
  res.set_header("Allow", "GET, HEAD");
  Plain(res, 405, "method not allowed");
  return httplib::Server::HandlerResponse::Handled;
}

// A player that pauses stops reading: it gets the gate's write timeout
// (60 s) before it is dropped.
GateOptions GateOf(const ProxyOptions& o, ProxyMetrics& metrics) {
  GateOptions g;
  g.threads = o.threads;
  g.head.allowed_hosts = o.allowed_hosts;
  g.on_refused = [&metrics](int status) {
    metrics.requests.Get(std::to_string(status)).Increment();
  };
  return g;
}

}  // namespace

Proxy::Proxy(ProxyOptions options)
    : options_(std::move(options)),
      sessions_(
          [this](
              const std::string& name) -> Expected<std::shared_ptr<Session>> {
            SessionOptions o = options_.sources;
            o.name = name;
            o.mirrors_match_name = true;  // a URL is one file's mirror
            auto session = client_.Open(o);
            if (!session) return Unexpected{session.error()};
            return std::shared_ptr<Session>(std::move(*session));
          },
          options_.keep_sessions),
      server_(std::make_unique<GatedServer>(GateOf(options_, metrics_))) {
  server_->set_pre_routing_handler(OnlyGetAndHead);
  server_->Get(".*", [this](const httplib::Request& req,
                            httplib::Response& res) { Handle(req, res); });
  // httplib answers 416 itself, before routing, to a Range it cannot parse
  // ("bytes=abc", "bytes=5-1"); the RFC says to ignore such a field, so the
  // request is handled as if it had none.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (res.status != 416 || res.has_header("Content-Range") ||
            (req.method != "GET" && req.method != "HEAD"))
          return httplib::Server::HandlerResponse::Unhandled;
        Handle(req, res, /*ignore_range=*/true);
        return httplib::Server::HandlerResponse::Handled;
      }));
  server_->set_logger([this](const httplib::Request& req,
                             const httplib::Response& res) {
    metrics_.requests.Get(std::to_string(res.status)).Increment();
    std::string peer = req.remote_addr + ":" + std::to_string(req.remote_port);
    std::string_view name(req.path);
    name.remove_prefix(name.empty() ? 0 : 1);
    net::PeerLog(spdlog::level::info, {peer, name}, "{} {} -> {}", req.method,
                 req.path, res.status);
  });
}

Proxy::~Proxy() = default;

Expected<int> Proxy::Bind() {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host);
  } else if (!server_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    return MakeError(Errc::kIoError, "cannot listen on " + options_.host + ":" +
                                         std::to_string(options_.port));
  }
  return port;
}

void Proxy::Serve() {
  server_->listen_after_bind();
  server_->StopGate();
}

void Proxy::Stop() { server_->stop(); }

void Proxy::Handle(const httplib::Request& req, httplib::Response& res,
                   bool ignore_range) {
  // httplib 0.11.4 applies the Range it parsed to any content provider,
  // unchecked against the size: ranges are resolved here instead.
  const_cast<httplib::Request&>(req).ranges.clear();
  std::string name = req.path.empty() ? "" : req.path.substr(1);
  if (core::HasControlBytes(name) || !core::CheckStreamName(name))
    return Plain(res, 400, "bad name");
  if (options_.access_key) {
    auto now = std::chrono::floor<std::chrono::seconds>(
        std::chrono::system_clock::now());
    std::string token = RequestToken(req.get_param_value("token"),
                                     req.get_header_value("Authorization"));
    auto s = core::CheckAccessToken(*options_.access_key, token, name, now);
    if (!s) return Plain(res, 403, s.error().ToString());
  }
  auto session = sessions_.Get(name);
  if (!session)
    return Plain(res, HttpStatusOf(session.error()),
                 session.error().ToString());
  // A failed fetch may mean the sources hold other content now.
  auto on_end = [this, name, s = session->get()](const Expected<Report>& r,
                                                 bool cancelled) {
    metrics_.Fetched(r);
    if (!r && !cancelled) sessions_.Forget(name, s);
  };
  Description d = (*session)->Describe();
  std::string type(GuessContentType(name));
  if (d.live()) {
    return SetLiveBody(req, std::move(*session), type, options_.queue_bytes,
                       on_end, metrics_.response_bytes, res);
  }
  // A source without byte ranges gives the whole file only: a Range is
  // ignored, as HTTP lets a server do (RFC 9110, 14.2).
  if (!d.ranges) ignore_range = true;
  res.set_header("Accept-Ranges", d.ranges ? "bytes" : "none");
  // The content id names the bytes; mirrors alone name none: no ETag.
  if (!d.content_id.empty()) res.set_header("ETag", "\"" + d.content_id + "\"");
  RangeRequest r =
      ResolveRange(ignore_range ? "" : req.get_header_value("Range"), d.size);
  FetchOptions fetch;
  switch (r.kind) {
    case RangeRequest::Kind::kUnsatisfiable:
      res.status = 416;
      res.set_header("Content-Range", "bytes */" + std::to_string(d.size));
      return;
    case RangeRequest::Kind::kPartial:
      res.status = 206;
      res.set_header("Content-Range", ContentRange(r.range, d.size));
      fetch.range = ByteRange{r.range.first, r.range.length};
      break;
    case RangeRequest::Kind::kWhole:
      res.status = 200;
      break;
  }
  uint64_t length = fetch.range ? fetch.range->length : d.size;
  SetBody(req.method == "HEAD", std::move(*session), std::move(fetch), length,
          type, options_.queue_bytes, options_.sources.connect_timeout, on_end,
          metrics_.response_bytes, res);
}

}  // namespace braid::proxy
