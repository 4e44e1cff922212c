// The wire codec, one pair of functions per message: Put writes the body,
// Take reads it (the frame header and the checks common to every frame are
// protocol.cc's). A message's type, name and largest body are constants of
// its struct (core/protocol.h); the tables of protocol.cc are derived from
// those. Adding a frame: its struct, its Put and Take, its place in
// Message. Bodies byte by byte: docs/protocol.md.
#ifndef BRAID_CORE_PROTOCOL_CODEC_H_
#define BRAID_CORE_PROTOCOL_CODEC_H_

#include <string>

#include "core/byte_io.h"
#include "core/protocol.h"

namespace braid::core::codec {

// kMalformed, "decode NAME: why".
template <class T>
Unexpected Bad(const char* why) {
  return MakeError(Errc::kMalformed,
                   std::string("decode ") + T::kName + ": " + why);
}

// A 32-byte digest (zero if the body is short: the reader says so).
void PutDigest(ByteWriter& w, const Digest& d);
Digest TakeDigest(ByteReader& r);

// Session frames (protocol.cc).
void Put(ByteWriter& w, const Hello& m);
Status Take(ByteReader& r, Hello* m);
void Put(ByteWriter& w, const Ping& m);
Status Take(ByteReader& r, Ping* m);
void Put(ByteWriter& w, const Pong& m);
Status Take(ByteReader& r, Pong* m);
void Put(ByteWriter& w, const List& m);
Status Take(ByteReader& r, List* m);
void Put(ByteWriter& w, const Toc& m);
Status Take(ByteReader& r, Toc* m);
void Put(ByteWriter& w, const Open& m);
Status Take(ByteReader& r, Open* m);
void Put(ByteWriter& w, const Opened& m);
Status Take(ByteReader& r, Opened* m);
void Put(ByteWriter& w, const Start& m);
Status Take(ByteReader& r, Start* m);
void Put(ByteWriter& w, const PatternMsg& m);
Status Take(ByteReader& r, PatternMsg* m);
void Put(ByteWriter& w, const PatternAck& m);
Status Take(ByteReader& r, PatternAck* m);
void Put(ByteWriter& w, const Data& m);
Status Take(ByteReader& r, Data* m);
void Put(ByteWriter& w, const End& m);
Status Take(ByteReader& r, End* m);
void Put(ByteWriter& w, const ErrorMsg& m);
Status Take(ByteReader& r, ErrorMsg* m);
void Put(ByteWriter& w, const Request& m);
Status Take(ByteReader& r, Request* m);
void Put(ByteWriter& w, const Skip& m);
Status Take(ByteReader& r, Skip* m);
void Put(ByteWriter& w, const ManifestGet& m);
Status Take(ByteReader& r, ManifestGet* m);
void Put(ByteWriter& w, const ManifestPart& m);
Status Take(ByteReader& r, ManifestPart* m);
void Put(ByteWriter& w, const Edge& m);
Status Take(ByteReader& r, Edge* m);
void Put(ByteWriter& w, const SignatureGet& m);
Status Take(ByteReader& r, SignatureGet* m);
void Put(ByteWriter& w, const SignatureMsg& m);
Status Take(ByteReader& r, SignatureMsg* m);
void Put(ByteWriter& w, const Window& m);
Status Take(ByteReader& r, Window* m);

// Director, discovery and relay frames (protocol_directory.cc).
void Put(ByteWriter& w, const Register& m);
Status Take(ByteReader& r, Register* m);
void Put(ByteWriter& w, const Registered& m);
Status Take(ByteReader& r, Registered* m);
void Put(ByteWriter& w, const Lookup& m);
Status Take(ByteReader& r, Lookup* m);
void Put(ByteWriter& w, const Sources& m);
Status Take(ByteReader& r, Sources* m);
void Put(ByteWriter& w, const CatalogPart& m);
Status Take(ByteReader& r, CatalogPart* m);
void Put(ByteWriter& w, const Discover& m);
Status Take(ByteReader& r, Discover* m);
void Put(ByteWriter& w, const Here& m);
Status Take(ByteReader& r, Here* m);
void Put(ByteWriter& w, const Route& m);
Status Take(ByteReader& r, Route* m);
void Put(ByteWriter& w, const Routed& m);
Status Take(ByteReader& r, Routed* m);

}  // namespace braid::core::codec

#endif  // BRAID_CORE_PROTOCOL_CODEC_H_
