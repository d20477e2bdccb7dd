//===- ModelLoader.h - Load and validate an ONNX model ----------*- C++ -*-===//
//
// Maps the .onnx file, parses the ModelProto, checks the opsets, and
// resolves and validates where every initializer's bytes are: inline
// raw_data (located in the mapped file by a wire-format walk), an external
// data file (exists, [offset, offset+length) inside it, length equal to
// shape x element size), or typed fields (float_data, int64_data, ...,
// with the element count of the shape).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_FRONTEND_ONNX_MODELLOADER_H
#define LLMC_LIB_FRONTEND_ONNX_MODELLOADER_H

#include <onnx/onnx_pb.h>

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llmc::onnx_import {

/// The default-domain opsets the importer understands.
constexpr int64_t kMinOpset = 13;
constexpr int64_t kMaxOpset = 21;

/// Size in bytes of one element of an ONNX TensorProto::DataType, or 0 for
/// types the importer does not handle (string, complex, sub-byte ints).
unsigned elementByteSize(int32_t dataType);
/// ONNX's 4-bit integer data types (IR version 10; not in onnx 1.12's enum).
constexpr int32_t kOnnxUInt4 = 21;
constexpr int32_t kOnnxInt4 = 22;
/// Bytes of `count` elements of `dataType` (4-bit types: two per byte), or
/// std::nullopt for unsupported types and overflow.
std::optional<uint64_t> storageBytes(int32_t dataType, uint64_t count);
/// The ONNX name of a data type ("FLOAT", "INT64", ...).
llvm::StringRef dataTypeName(int32_t dataType);

/// Where a tensor's bytes are.
struct TensorLocation {
  enum class Kind { Inline, External, Typed, Empty };
  Kind kind = Kind::Empty;
  /// The file holding the bytes (Inline: the model, External: the data
  /// file), as resolved from the model path.
  std::string file;
  uint64_t offset = 0;
  uint64_t length = 0;
};

/// Number of elements of a tensor with `dims`; std::nullopt for negative
/// dims or overflow.
std::optional<uint64_t> elementCount(llvm::ArrayRef<int64_t> dims);

class LoadedModel {
public:
  /// Map, parse and validate the model at `path`. Errors carry no file
  /// name prefix (the caller adds it).
  static llvm::Expected<std::unique_ptr<LoadedModel>> load(llvm::StringRef path);

  const onnx::ModelProto &model() const { return proto; }
  const onnx::GraphProto &graph() const { return proto.graph(); }
  /// For graph rewrites before import (quantization patterns): node edits
  /// only; initializers must stay in place (their locations are indexed).
  onnx::GraphProto &mutableGraph() { return *proto.mutable_graph(); }
  /// Declare an importer-internal domain used by rewritten nodes.
  void addOpsetImport(llvm::StringRef domain, int64_t version) {
    auto *op = proto.add_opset_import();
    op->set_domain(domain.str());
    op->set_version(version);
  }
  llvm::StringRef path() const { return modelPath; }
  /// The opset version imported for `domain` ("" and "ai.onnx" are the
  /// default domain), or std::nullopt.
  std::optional<int64_t> opsetVersion(llvm::StringRef domain) const;

  /// Location of the bytes of graph initializer `index`.
  const TensorLocation &initializerLocation(size_t index) const {
    return locations[index];
  }
  /// The little-endian bytes of graph initializer `index` (mapped, not
  /// copied, for inline and external data).
  llvm::Expected<llvm::StringRef> initializerBytes(size_t index);
  /// The bytes of a tensor that is not a graph initializer (a Constant
  /// node's value attribute), after validating its size.
  llvm::Expected<llvm::StringRef> tensorBytes(const onnx::TensorProto &t);

private:
  LoadedModel() = default;
  llvm::Error checkOpsets();
  llvm::Error resolveInitializers();
  llvm::Expected<TensorLocation> resolveExternal(const onnx::TensorProto &t,
                                                 uint64_t expected);
  llvm::Expected<llvm::MemoryBuffer *> mapFile(llvm::StringRef file);

  std::string modelPath;
  std::string modelDir;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  onnx::ModelProto proto;
  std::vector<TensorLocation> locations;
  llvm::StringMap<std::unique_ptr<llvm::MemoryBuffer>> mapped;
  std::vector<std::unique_ptr<std::string>> typedCopies;
};

/// Serialize the typed-field data of `t` (float_data, int32_data, ...) as
/// little-endian bytes of its data type. Fails when the element count does
/// not match `expectedElements`.
llvm::Expected<std::string> typedFieldBytes(const onnx::TensorProto &t,
                                            uint64_t expectedElements);

/// "[2, 64] FLOAT" for messages.
std::string describeTensor(const onnx::TensorProto &t);

} // namespace llmc::onnx_import

#endif // LLMC_LIB_FRONTEND_ONNX_MODELLOADER_H
