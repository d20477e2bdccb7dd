//===- WireFormat.h - Find initializer bytes in a serialized model -*- C++ -*-===//
//
// A light walk of the protobuf wire format of an ONNX ModelProto that finds
// where each initializer's raw_data lies inside the file, so weights stored
// inline can be referenced by (file, offset, length) and mmap'ed later
// instead of being copied:
//
//   ModelProto.graph (7) -> GraphProto.initializer (5) ->
//       TensorProto.name (8), TensorProto.raw_data (9)
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_FRONTEND_ONNX_WIREFORMAT_H
#define LLMC_LIB_FRONTEND_ONNX_WIREFORMAT_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace llmc::onnx_import {

struct InitializerBytes {
  std::string name;
  /// Byte offset of the raw_data payload from the start of the buffer and
  /// its length; absent when the initializer has no raw_data field.
  std::optional<uint64_t> rawDataOffset;
  uint64_t rawDataLength = 0;
};

/// The graph initializers of the serialized ModelProto in `bytes`, in the
/// order the graph lists them (the order of GraphProto::initializer()).
/// Fails on malformed wire data.
llvm::Expected<std::vector<InitializerBytes>>
findInitializerRawData(llvm::StringRef bytes);

} // namespace llmc::onnx_import

#endif // LLMC_LIB_FRONTEND_ONNX_WIREFORMAT_H
