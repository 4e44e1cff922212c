// Codec of the director, discovery and relay frames (0x12-0x1A), used by
// protocol.cc; see docs/protocol.md "Director", "Discovery" and "Relay".
#ifndef BRAID_CORE_PROTOCOL_DIRECTORY_H_
#define BRAID_CORE_PROTOCOL_DIRECTORY_H_

#include <optional>

#include "core/byte_io.h"
#include "core/protocol.h"

namespace braid::core::detail {

void EncodeDirectoryBody(const Register& m, ByteWriter& w);
void EncodeDirectoryBody(const Registered& m, ByteWriter& w);
void EncodeDirectoryBody(const Lookup& m, ByteWriter& w);
void EncodeDirectoryBody(const Sources& m, ByteWriter& w);
void EncodeDirectoryBody(const CatalogPart& m, ByteWriter& w);
void EncodeDirectoryBody(const Discover& m, ByteWriter& w);
void EncodeDirectoryBody(const Here& m, ByteWriter& w);
void EncodeDirectoryBody(const Route& m, ByteWriter& w);
void EncodeDirectoryBody(const Routed& m, ByteWriter& w);

// nullopt for a type that is not a director or discovery frame.
std::optional<size_t> DirectoryMaxBody(FrameType t);
const char* DirectoryFrameName(FrameType t);
// REQUIRES: DirectoryMaxBody(t) has a value.
Expected<Message> DecodeDirectoryFields(FrameType t, ByteReader& r);

}  // namespace braid::core::detail

#endif  // BRAID_CORE_PROTOCOL_DIRECTORY_H_
