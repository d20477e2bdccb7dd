//===- WireFormat.cpp - Find initializer bytes in a serialized model ------===//

#include "WireFormat.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <climits>

using google::protobuf::io::CodedInputStream;
using google::protobuf::internal::WireFormatLite;

using namespace llmc::onnx_import;

namespace {

// Field numbers from onnx.proto.
constexpr int kModelGraph = 7;
constexpr int kGraphInitializer = 5;
constexpr int kTensorName = 8;
constexpr int kTensorRawData = 9;

llvm::Error malformed(const char *where) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "malformed protobuf wire data in %s", where);
}

/// Reads the length of a length-delimited field and checks it fits.
bool readLength(CodedInputStream &in, uint32_t &len) {
  if (!in.ReadVarint32(&len))
    return false;
  return in.BytesUntilLimit() < 0 || len <= uint32_t(in.BytesUntilLimit());
}

llvm::Error walkTensor(CodedInputStream &in, InitializerBytes &out) {
  while (uint32_t tag = in.ReadTag()) {
    int field = WireFormatLite::GetTagFieldNumber(tag);
    auto wire = WireFormatLite::GetTagWireType(tag);
    if (wire == WireFormatLite::WIRETYPE_LENGTH_DELIMITED &&
        (field == kTensorName || field == kTensorRawData)) {
      uint32_t len;
      if (!readLength(in, len))
        return malformed("an initializer");
      if (field == kTensorName) {
        if (!in.ReadString(&out.name, int(len)))
          return malformed("an initializer name");
      } else {
        out.rawDataOffset = uint64_t(in.CurrentPosition());
        out.rawDataLength = len;
        if (!in.Skip(int(len)))
          return malformed("an initializer's raw_data");
      }
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag))
      return malformed("an initializer");
  }
  if (!in.ConsumedEntireMessage())
    return malformed("an initializer");
  return llvm::Error::success();
}

llvm::Error walkGraph(CodedInputStream &in,
                      std::vector<InitializerBytes> &out) {
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == kGraphInitializer &&
        WireFormatLite::GetTagWireType(tag) ==
            WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t len;
      if (!readLength(in, len))
        return malformed("the graph");
      auto limit = in.PushLimit(int(len));
      out.emplace_back();
      if (llvm::Error err = walkTensor(in, out.back()))
        return err;
      in.PopLimit(limit);
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag))
      return malformed("the graph");
  }
  if (!in.ConsumedEntireMessage())
    return malformed("the graph");
  return llvm::Error::success();
}

} // namespace

llvm::Expected<std::vector<InitializerBytes>>
llmc::onnx_import::findInitializerRawData(llvm::StringRef bytes) {
  if (bytes.size() > size_t(INT_MAX))
    return llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "a serialized ONNX model is limited to 2 GiB (protobuf); store "
        "weights as external data");
  CodedInputStream in(reinterpret_cast<const uint8_t *>(bytes.data()),
                      int(bytes.size()));
  std::vector<InitializerBytes> out;
  while (uint32_t tag = in.ReadTag()) {
    if (WireFormatLite::GetTagFieldNumber(tag) == kModelGraph &&
        WireFormatLite::GetTagWireType(tag) ==
            WireFormatLite::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t len;
      if (!readLength(in, len))
        return malformed("the model");
      auto limit = in.PushLimit(int(len));
      if (llvm::Error err = walkGraph(in, out))
        return err;
      in.PopLimit(limit);
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag))
      return malformed("the model");
  }
  if (!in.ConsumedEntireMessage() || in.CurrentPosition() != int(bytes.size()))
    return malformed("the model");
  return out;
}
