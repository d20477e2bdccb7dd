//===- ModelLoader.cpp - Load and validate an ONNX model ------------------===//

#include "ModelLoader.h"

#include "WireFormat.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <climits>
#include <cstring>

using namespace llmc::onnx_import;
using llvm::createStringError;
using llvm::inconvertibleErrorCode;

namespace {
template <typename... Ts>
llvm::Error fail(const char *fmt, const Ts &...vals) {
  return createStringError(inconvertibleErrorCode(), fmt, vals...);
}
} // namespace

unsigned llmc::onnx_import::elementByteSize(int32_t dataType) {
  using T = onnx::TensorProto;
  switch (dataType) {
  case T::FLOAT:
  case T::INT32:
  case T::UINT32:
    return 4;
  case T::DOUBLE:
  case T::INT64:
  case T::UINT64:
    return 8;
  case T::FLOAT16:
  case T::BFLOAT16:
  case T::INT16:
  case T::UINT16:
    return 2;
  case T::INT8:
  case T::UINT8:
  case T::BOOL:
    return 1;
  default:
    return 0;
  }
}

std::optional<uint64_t> llmc::onnx_import::storageBytes(int32_t dataType,
                                                       uint64_t count) {
  if (dataType == kOnnxUInt4 || dataType == kOnnxInt4)
    return count / 2 + count % 2; // two per byte, the first in the low nibble
  uint64_t esize = elementByteSize(dataType), bytes;
  if (esize == 0 || __builtin_mul_overflow(count, esize, &bytes))
    return std::nullopt;
  return bytes;
}

llvm::StringRef llmc::onnx_import::dataTypeName(int32_t dataType) {
  // onnx 1.12's generated enum predates the 4-bit types (IR version 10).
  if (dataType == kOnnxUInt4)
    return "UINT4";
  if (dataType == kOnnxInt4)
    return "INT4";
  if (onnx::TensorProto::DataType_IsValid(dataType))
    return onnx::TensorProto::DataType_Name(
        static_cast<onnx::TensorProto::DataType>(dataType));
  return "UNKNOWN";
}

std::optional<uint64_t>
llmc::onnx_import::elementCount(llvm::ArrayRef<int64_t> dims) {
  uint64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0)
      return std::nullopt;
    uint64_t r;
    if (__builtin_mul_overflow(n, uint64_t(d), &r))
      return std::nullopt;
    n = r;
  }
  return n;
}

std::string llmc::onnx_import::describeTensor(const onnx::TensorProto &t) {
  std::string s = "[";
  for (int i = 0; i < t.dims_size(); ++i)
    s += (i ? ", " : "") + std::to_string(t.dims(i));
  return s + "] " + dataTypeName(t.data_type()).str();
}

llvm::Expected<std::string>
llmc::onnx_import::typedFieldBytes(const onnx::TensorProto &t,
                                   uint64_t expectedElements) {
  using T = onnx::TensorProto;
  unsigned size = elementByteSize(t.data_type());
  std::string out;
  auto check = [&](uint64_t count, const char *field) -> llvm::Error {
    if (count == expectedElements)
      return llvm::Error::success();
    return fail("tensor '%s' has %llu values in %s but its shape %s needs "
                "%llu",
                t.name().c_str(), (unsigned long long)count, field,
                describeTensor(t).c_str(),
                (unsigned long long)expectedElements);
  };
  switch (t.data_type()) {
  case T::FLOAT:
    if (auto err = check(t.float_data_size(), "float_data"))
      return err;
    out.assign(reinterpret_cast<const char *>(t.float_data().data()),
               size_t(t.float_data_size()) * 4);
    return out;
  case T::DOUBLE:
    if (auto err = check(t.double_data_size(), "double_data"))
      return err;
    out.assign(reinterpret_cast<const char *>(t.double_data().data()),
               size_t(t.double_data_size()) * 8);
    return out;
  case T::INT64:
    if (auto err = check(t.int64_data_size(), "int64_data"))
      return err;
    out.assign(reinterpret_cast<const char *>(t.int64_data().data()),
               size_t(t.int64_data_size()) * 8);
    return out;
  case T::UINT32:
  case T::UINT64:
    if (auto err = check(t.uint64_data_size(), "uint64_data"))
      return err;
    for (uint64_t v : t.uint64_data())
      out.append(reinterpret_cast<const char *>(&v), size);
    return out;
  case T::INT32:
  case T::INT16:
  case T::INT8:
  case T::UINT16:
  case T::UINT8:
  case T::BOOL:
  case T::FLOAT16:
  case T::BFLOAT16:
    if (auto err = check(t.int32_data_size(), "int32_data"))
      return err;
    for (int32_t v : t.int32_data())
      out.append(reinterpret_cast<const char *>(&v), size); // little endian
    return out;
  default:
    return fail("tensor '%s' has unsupported data type %s", t.name().c_str(),
                dataTypeName(t.data_type()).str().c_str());
  }
}

llvm::Expected<std::unique_ptr<LoadedModel>>
LoadedModel::load(llvm::StringRef path) {
  if (!llvm::sys::fs::exists(path))
    return fail("no such file");
  if (llvm::sys::fs::is_directory(path))
    return fail("is a directory, not an ONNX model file");
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!buf)
    return fail("cannot read the file: %s", buf.getError().message().c_str());

  std::unique_ptr<LoadedModel> m(new LoadedModel());
  m->modelPath = path.str();
  m->modelDir = llvm::sys::path::parent_path(path).str();
  m->buffer = std::move(*buf);
  llvm::StringRef bytes = m->buffer->getBuffer();
  if (bytes.size() > size_t(INT_MAX))
    return fail("the model file is larger than 2 GiB, the protobuf limit; "
                "store the weights as ONNX external data");
  if (bytes.empty())
    return fail("the file is empty, not an ONNX model");
  if (!m->proto.ParseFromArray(bytes.data(), int(bytes.size())))
    return fail("invalid ONNX model: the protobuf is malformed or truncated");
  if (!m->proto.has_graph())
    return fail("invalid ONNX model: it has no graph (truncated, or not an "
                "ONNX file)");
  if (llvm::Error err = m->checkOpsets())
    return err;
  if (llvm::Error err = m->resolveInitializers())
    return err;
  return m;
}

std::optional<int64_t>
LoadedModel::opsetVersion(llvm::StringRef domain) const {
  bool wantDefault = domain.empty() || domain == "ai.onnx";
  for (const auto &op : proto.opset_import()) {
    llvm::StringRef d = op.domain();
    bool isDefault = d.empty() || d == "ai.onnx";
    if (wantDefault ? isDefault : d == domain)
      return op.version();
  }
  return std::nullopt;
}

llvm::Error LoadedModel::checkOpsets() {
  std::optional<int64_t> version = opsetVersion("");
  if (!version)
    return fail("invalid ONNX model: it imports no opset of the default "
                "domain (opset_import is empty)");
  if (*version < kMinOpset || *version > kMaxOpset)
    return fail("unsupported ONNX opset %lld: llmc imports opsets %lld to "
                "%lld of the default domain; re-export the model with "
                "opset_version=17",
                (long long)*version, (long long)kMinOpset,
                (long long)kMaxOpset);
  return llvm::Error::success();
}

llvm::Error LoadedModel::resolveInitializers() {
  auto wire = findInitializerRawData(buffer->getBuffer());
  if (!wire)
    return wire.takeError();
  const auto &inits = proto.graph().initializer();
  if (wire->size() != size_t(inits.size()))
    return fail("internal error: found %zu initializers in the wire format, "
                "the parser found %d",
                wire->size(), inits.size());

  for (int i = 0; i < inits.size(); ++i) {
    const onnx::TensorProto &t = inits[i];
    const InitializerBytes &w = (*wire)[i];
    if (w.name != t.name())
      return fail("internal error: initializer %d is '%s' in the wire "
                  "format, '%s' for the parser",
                  i, w.name.c_str(), t.name().c_str());
    if (!storageBytes(t.data_type(), 0))
      return fail("initializer '%s' has unsupported data type %s",
                  t.name().c_str(),
                  dataTypeName(t.data_type()).str().c_str());
    std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
    std::optional<uint64_t> count = elementCount(dims);
    std::optional<uint64_t> nbytes =
        count ? storageBytes(t.data_type(), *count) : std::nullopt;
    if (!nbytes)
      return fail("initializer '%s' has an invalid shape %s",
                  t.name().c_str(), describeTensor(t).c_str());
    uint64_t expected = *nbytes;

    TensorLocation loc;
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      auto ext = resolveExternal(t, expected);
      if (!ext)
        return ext.takeError();
      loc = std::move(*ext);
    } else if (t.has_raw_data()) {
      if (t.raw_data().size() != expected)
        return fail("initializer '%s' has %zu bytes of raw_data but its "
                    "shape %s needs %llu bytes",
                    t.name().c_str(), t.raw_data().size(),
                    describeTensor(t).c_str(), (unsigned long long)expected);
      if (!w.rawDataOffset || w.rawDataLength != expected)
        return fail("internal error: raw_data of initializer '%s' not found "
                    "in the wire format",
                    t.name().c_str());
      loc.kind = TensorLocation::Kind::Inline;
      loc.file = modelPath;
      loc.offset = *w.rawDataOffset;
      loc.length = expected;
    } else {
      // Typed fields: validate the element count now.
      auto bytes = typedFieldBytes(t, *count);
      if (!bytes)
        return bytes.takeError();
      loc.kind = *count == 0 ? TensorLocation::Kind::Empty
                             : TensorLocation::Kind::Typed;
      loc.length = expected;
    }
    locations.push_back(std::move(loc));
  }

  // The bytes of inline initializers are read from the mapped file from now
  // on: release the parser's copies.
  auto *graph = proto.mutable_graph();
  for (int i = 0; i < graph->initializer_size(); ++i) {
    auto *t = graph->mutable_initializer(i);
    if (t->has_raw_data() && t->raw_data().size() > 4096)
      std::string().swap(*t->mutable_raw_data());
  }
  return llvm::Error::success();
}

llvm::Expected<TensorLocation>
LoadedModel::resolveExternal(const onnx::TensorProto &t, uint64_t expected) {
  std::string location;
  std::optional<uint64_t> offset, length;
  for (const auto &kv : t.external_data()) {
    uint64_t v;
    if (kv.key() == "location") {
      location = kv.value();
    } else if (kv.key() == "offset" || kv.key() == "length") {
      if (llvm::StringRef(kv.value()).getAsInteger(10, v))
        return fail("initializer '%s' has an invalid external data %s '%s'",
                    t.name().c_str(), kv.key().c_str(), kv.value().c_str());
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  if (location.empty())
    return fail("initializer '%s' is stored as external data but has no "
                "location",
                t.name().c_str());
  llvm::SmallString<256> file;
  if (llvm::sys::path::is_absolute(location)) {
    file = location;
  } else {
    file = modelDir;
    llvm::sys::path::append(file, location);
  }
  uint64_t fileSize;
  if (std::error_code ec = llvm::sys::fs::file_size(file, fileSize))
    return fail("initializer '%s': its external data file '%s' is missing "
                "(looked for '%s': %s)",
                t.name().c_str(), location.c_str(), file.c_str(),
                ec.message().c_str());
  if (length && *length != expected)
    return fail("initializer '%s' has an external data length of %llu bytes "
                "but its shape %s needs %llu bytes",
                t.name().c_str(), (unsigned long long)*length,
                describeTensor(t).c_str(), (unsigned long long)expected);
  uint64_t off = offset.value_or(0);
  if (off > fileSize || expected > fileSize - off)
    return fail("initializer '%s': external data bytes [%llu, %llu) lie "
                "beyond the end of '%s' (%llu bytes)",
                t.name().c_str(), (unsigned long long)off,
                (unsigned long long)(off + expected), location.c_str(),
                (unsigned long long)fileSize);
  TensorLocation loc;
  loc.kind = TensorLocation::Kind::External;
  loc.file = std::string(file);
  loc.offset = off;
  loc.length = expected;
  return loc;
}

llvm::Expected<llvm::MemoryBuffer *>
LoadedModel::mapFile(llvm::StringRef file) {
  auto &slot = mapped[file];
  if (!slot) {
    auto buf = llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
    if (!buf)
      return fail("cannot read '%s': %s", file.str().c_str(),
                  buf.getError().message().c_str());
    slot = std::move(*buf);
  }
  return slot.get();
}

llvm::Expected<llvm::StringRef> LoadedModel::initializerBytes(size_t index) {
  const TensorLocation &loc = locations[index];
  switch (loc.kind) {
  case TensorLocation::Kind::Empty:
    return llvm::StringRef();
  case TensorLocation::Kind::Inline:
    return buffer->getBuffer().substr(loc.offset, loc.length);
  case TensorLocation::Kind::External: {
    auto buf = mapFile(loc.file);
    if (!buf)
      return buf.takeError();
    llvm::StringRef all = (*buf)->getBuffer();
    if (loc.offset + loc.length > all.size())
      return fail("external data file '%s' changed while importing",
                  loc.file.c_str());
    return all.substr(loc.offset, loc.length);
  }
  case TensorLocation::Kind::Typed:
    return tensorBytes(proto.graph().initializer(int(index)));
  }
  llvm_unreachable("unknown tensor location");
}

llvm::Expected<llvm::StringRef>
LoadedModel::tensorBytes(const onnx::TensorProto &t) {
  if (!storageBytes(t.data_type(), 0))
    return fail("tensor '%s' has unsupported data type %s", t.name().c_str(),
                dataTypeName(t.data_type()).str().c_str());
  std::vector<int64_t> dims(t.dims().begin(), t.dims().end());
  std::optional<uint64_t> count = elementCount(dims);
  std::optional<uint64_t> nbytes =
      count ? storageBytes(t.data_type(), *count) : std::nullopt;
  if (!nbytes)
    return fail("tensor '%s' has an invalid shape %s", t.name().c_str(),
                describeTensor(t).c_str());
  uint64_t expected = *nbytes;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    auto loc = resolveExternal(t, expected);
    if (!loc)
      return loc.takeError();
    auto buf = mapFile(loc->file);
    if (!buf)
      return buf.takeError();
    return (*buf)->getBuffer().substr(loc->offset, loc->length);
  }
  if (t.has_raw_data()) {
    if (t.raw_data().size() != expected)
      return fail("tensor '%s' has %zu bytes of raw_data but its shape %s "
                  "needs %llu bytes",
                  t.name().c_str(), t.raw_data().size(),
                  describeTensor(t).c_str(), (unsigned long long)expected);
    return llvm::StringRef(t.raw_data());
  }
  auto bytes = typedFieldBytes(t, *count);
  if (!bytes)
    return bytes.takeError();
  typedCopies.push_back(std::make_unique<std::string>(std::move(*bytes)));
  return llvm::StringRef(*typedCopies.back());
}
