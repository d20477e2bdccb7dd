//===- PrequantizedWeights.cpp - ONNX pre-quantized weights -> kernels ---===//
//
// See include/llmc/CodeGen/PrequantizedWeights.h for the layouts.
//
//===----------------------------------------------------------------------===//

#include "llmc/CodeGen/PrequantizedWeights.h"

#include "llmc/Kernels/Half.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/LLMCAttrs.h"
#include "llmc/LLMCOps.h"
#include "llmc/LLMCTypes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cstring>

using namespace llvm;
using namespace mlir;

namespace llmc::codegen {

namespace {

Error fail(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg.str());
}

/// One part (scales or zero points): raw little-endian bytes of `count`
/// elements of `elemBits` bits, from a file reference or embedded values.
Expected<std::string> readPart(StringRef weight, StringRef what, Attribute a,
                               uint64_t count, unsigned elemBits, ByteReader read) {
  uint64_t bytes = (count * elemBits + 7) / 8;
  if (auto d = dyn_cast_or_null<DictionaryAttr>(a)) {
    auto file = d.getAs<StringAttr>("file");
    auto off = d.getAs<IntegerAttr>("offset");
    auto len = d.getAs<IntegerAttr>("length");
    if (!file || !off || !len)
      return fail("weight '" + weight + "': " + what +
                  " reference needs file, offset and length");
    if (uint64_t(len.getInt()) != bytes)
      return fail("weight '" + weight + "': " + what + " hold " +
                  Twine(len.getInt()) + " bytes, the layout needs " + Twine(bytes));
    auto r = read(file.getValue(), uint64_t(off.getInt()), bytes);
    if (!r)
      return r.takeError();
    return r->str();
  }
  if (auto e = dyn_cast_or_null<DenseElementsAttr>(a)) {
    if (uint64_t(e.getNumElements()) != count)
      return fail("weight '" + weight + "': " + what + " have " +
                  Twine(e.getNumElements()) + " values, the layout needs " +
                  Twine(count));
    std::string out(bytes, '\0');
    Type et = e.getElementType();
    uint64_t i = 0;
    if (isa<FloatType>(et)) {
      for (const APFloat &v : e.getValues<APFloat>()) {
        uint64_t raw = v.bitcastToAPInt().getZExtValue();
        std::memcpy(&out[i * elemBits / 8], &raw, elemBits / 8);
        ++i;
      }
    } else {
      for (const APInt &v : e.getValues<APInt>()) {
        uint64_t raw = v.getZExtValue();
        if (elemBits == 4)
          out[i / 2] = char(uint8_t(out[i / 2]) | ((raw & 0xF) << (4 * (i % 2))));
        else
          out[i] = char(raw);
        ++i;
      }
    }
    return out;
  }
  return fail("weight '" + weight + "': " + what +
              " must be a file reference or dense values");
}

float loadScale(const std::string &bytes, uint64_t i, Type t) {
  if (t.isF32()) {
    float f;
    std::memcpy(&f, bytes.data() + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, bytes.data() + 2 * i, 2);
  return t.isF16() ? kernels::fp16ToFp32(h) : kernels::bf16ToFp32(h);
}

/// Element i of a flat array of 4- or 8-bit values.
unsigned loadCode(const char *p, uint64_t i, unsigned bits) {
  if (bits == 8)
    return uint8_t(p[i]);
  return (uint8_t(p[i / 2]) >> (4 * (i % 2))) & 0xF;
}

} // namespace

bool isPrequantizedWeight(Value v) {
  auto w = dyn_cast_or_null<llmc::WeightOp>(v.getDefiningOp());
  return w && isa<llmc::QWeightType>(w.getType());
}

Expected<kernels::QuantizedWeights> readPrequantizedWeight(llmc::WeightOp w,
                                                           ByteReader read) {
  std::string name = w.getName().str();
  auto qt = dyn_cast<llmc::QWeightType>(w.getType());
  if (!qt)
    return fail("weight '" + name + "' is not an !llmc.qweight");
  llmc::QuantAttr quant = qt.getQuant();
  StringRef layout = quant.getLayout();
  auto desc = w->getAttrOfType<DictionaryAttr>(kPrequantAttrName);
  if ((layout != kOnnxMatMulNBitsLayout && layout != kOnnxKNLayout) || !desc)
    return fail("weight '" + name + "': !llmc.qweight with layout '" + layout +
                "' is not an ONNX pre-quantized weight (layouts '" +
                kOnnxMatMulNBitsLayout + "', '" + kOnnxKNLayout +
                "' with an llmc.prequant description); llmc compile cannot read it");
  const int64_t K = qt.getK(), N = qt.getN();
  const unsigned bits = quant.getBits();
  if (bits != 4 && bits != 8)
    return fail("weight '" + name + "': " + Twine(bits) +
                "-bit ONNX weights are not supported (4 or 8)");
  const int64_t block = quant.getGroupSize() ? quant.getGroupSize() : K;
  const int64_t G = (K + block - 1) / block;
  Type st = quant.getScaleType();

  kernels::QuantizedWeights q;
  q.format = kernels::WeightFormat::quantized(
      bits == 4 ? kernels::WeightType::Int4 : kernels::WeightType::Int8,
      unsigned(quant.getGroupSize()), /*sym=*/false,
      st.isF32()   ? kernels::ScaleType::F32
      : st.isF16() ? kernels::ScaleType::F16
                   : kernels::ScaleType::BF16);
  q.N = N;
  q.K = K;
  q.group = block;
  q.numGroups = G;
  q.codes.resize(size_t(N * K));
  q.scales.resize(size_t(N * G));
  q.zeros.resize(size_t(N * G));

  auto codesLen = desc.getAs<IntegerAttr>("codes_length");
  Attribute zpAttr = desc.get("zero_points");
  auto zpType = desc.getAs<TypeAttr>("zero_point_type");
  if (zpAttr && !zpType)
    return fail("weight '" + name + "': zero_points without zero_point_type");

  if (layout == kOnnxMatMulNBitsLayout) {
    const int64_t rowBytes = G * block * bits / 8;
    const uint64_t codeBytes = uint64_t(N * rowBytes);
    if (codesLen && uint64_t(codesLen.getInt()) != codeBytes)
      return fail("weight '" + name + "': the codes hold " +
                  Twine(codesLen.getInt()) + " bytes, MatMulNBits [" + Twine(N) +
                  ", " + Twine(G) + ", " + Twine(block * bits / 8) + "] needs " +
                  Twine(codeBytes));
    auto codes = read(w.getFile(), uint64_t(w.getOffsetAttr().getInt()), codeBytes);
    if (!codes)
      return codes.takeError();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        q.codes[n * K + k] = uint8_t(loadCode(codes->data() + n * rowBytes, k, bits));
    auto sb = readPart(name, "scales", desc.get("scales"), uint64_t(N * G),
                       st.getIntOrFloatBitWidth(), read);
    if (!sb)
      return sb.takeError();
    for (int64_t i = 0; i < N * G; ++i)
      q.scales[i] = loadScale(*sb, uint64_t(i), st);
    if (zpAttr) {
      if (!zpType.getValue().isUnsignedInteger(8))
        return fail("weight '" + name + "': MatMulNBits zero points must be uint8");
      const int64_t zpRow = (G * bits + 7) / 8;
      auto zb = readPart(name, "zero points", zpAttr, uint64_t(N * zpRow), 8, read);
      if (!zb)
        return zb.takeError();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t g = 0; g < G; ++g)
          q.zeros[n * G + g] = uint8_t(loadCode(zb->data() + n * zpRow, g, bits));
    } else {
      std::fill(q.zeros.begin(), q.zeros.end(), uint8_t(1u << (bits - 1)));
    }
    return q;
  }

  // onnx.kn: codes [K][N], signed codes shifted to unsigned by 2^(bits-1).
  auto signedAttr = desc.getAs<BoolAttr>("codes_signed");
  const bool isSigned = signedAttr && signedAttr.getValue();
  const unsigned flip = isSigned ? (1u << (bits - 1)) : 0u;
  const uint64_t codeBytes = (uint64_t(K * N) * bits + 7) / 8;
  if (codesLen && uint64_t(codesLen.getInt()) != codeBytes)
    return fail("weight '" + name + "': the codes hold " + Twine(codesLen.getInt()) +
                " bytes, [" + Twine(K) + ", " + Twine(N) + "] needs " +
                Twine(codeBytes));
  auto codes = read(w.getFile(), uint64_t(w.getOffsetAttr().getInt()), codeBytes);
  if (!codes)
    return codes.takeError();
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n)
      q.codes[n * K + k] = uint8_t(loadCode(codes->data(), uint64_t(k * N + n), bits) ^ flip);
  // Scales: per tensor (1), per column (N) or blocked ([G][N]).
  Attribute sAttr = desc.get("scales");
  uint64_t ns = 0;
  if (auto d = dyn_cast_or_null<DictionaryAttr>(sAttr)) {
    if (auto len = d.getAs<IntegerAttr>("length"))
      ns = uint64_t(len.getInt()) / (st.getIntOrFloatBitWidth() / 8);
  } else if (auto e = dyn_cast_or_null<DenseElementsAttr>(sAttr)) {
    ns = uint64_t(e.getNumElements());
  }
  bool blocked = quant.getGroupSize() != 0;
  if (blocked ? ns != uint64_t(G * N) : (ns != 1 && ns != uint64_t(N)))
    return fail("weight '" + name + "': " + Twine(ns) + " scales for a [" + Twine(K) +
                ", " + Twine(N) + "] weight " +
                (blocked ? "in blocks of " + Twine(block) : Twine("per column")));
  auto sb = readPart(name, "scales", sAttr, ns, st.getIntOrFloatBitWidth(), read);
  if (!sb)
    return sb.takeError();
  auto srcIndex = [&](int64_t n, int64_t g) -> uint64_t {
    if (ns == 1)
      return 0;
    return blocked ? uint64_t(g * N + n) : uint64_t(n);
  };
  for (int64_t n = 0; n < N; ++n)
    for (int64_t g = 0; g < G; ++g)
      q.scales[n * G + g] = loadScale(*sb, srcIndex(n, g), st);
  if (zpAttr) {
    auto zt = dyn_cast<IntegerType>(zpType.getValue());
    if (!zt || zt.getWidth() != bits || zt.isUnsigned() == isSigned)
      return fail("weight '" + name + "': the zero points must have the codes' type");
    auto zb = readPart(name, "zero points", zpAttr, ns, bits, read);
    if (!zb)
      return zb.takeError();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t g = 0; g < G; ++g)
        q.zeros[n * G + g] = uint8_t(loadCode(zb->data(), srcIndex(n, g), bits) ^ flip);
  } else {
    std::fill(q.zeros.begin(), q.zeros.end(), uint8_t(flip));
  }
  return q;
}

Error toKernelFormat(kernels::QuantizedWeights &q, StringRef name) {
  kernels::WeightFormat &f = q.format;
  // Zero points all at the midpoint: the symmetric format holds them.
  const unsigned mid = f.symZero();
  f.symmetric = std::all_of(q.zeros.begin(), q.zeros.end(),
                            [&](uint8_t z) { return z == mid; });
  // One group covering K is the per-channel format.
  if (q.numGroups == 1) {
    f.groupSize = 0;
    q.group = q.K;
    return Error::success();
  }
  if (f.groupSize % 32 == 0)
    return Error::success();
  // Groups smaller than a 32-k chunk: merge neighbours into groups of 32 when
  // they share scale and zero point (exact, and half the scales to stream);
  // otherwise blocks of 16 stay 16-k groups, which the kernels also run.
  if (f.groupSize == 0 || 32 % f.groupSize != 0)
    return fail("weight '" + name + "': quantization groups of " +
                Twine(f.groupSize) + " cannot be repacked for the kernels");
  const int64_t factor = 32 / int64_t(f.groupSize);
  const int64_t G2 = (q.numGroups + factor - 1) / factor;
  std::vector<float> scales(size_t(q.N * G2));
  std::vector<uint8_t> zeros(size_t(q.N * G2));
  for (int64_t n = 0; n < q.N; ++n)
    for (int64_t g2 = 0; g2 < G2; ++g2) {
      int64_t first = g2 * factor;
      float s = q.scales[n * q.numGroups + first];
      uint8_t z = q.zeros[n * q.numGroups + first];
      for (int64_t g = first + 1; g < std::min(first + factor, q.numGroups); ++g) {
        float s2 = q.scales[n * q.numGroups + g];
        uint8_t z2 = q.zeros[n * q.numGroups + g];
        if (std::memcmp(&s, &s2, 4) == 0 && z == z2)
          continue;
        if (Error e = f.validate()) // 16-k groups: int8/int4 (not int3)
          return fail(formatv(
              "weight '{0}': blocks of {1} along K: the kernels need groups of "
              "16 or a multiple of 32, and repacking into groups of 32 is exact "
              "only when neighbouring blocks share scale and zero point, which "
              "output channel {2}'s blocks {3} and {4} do not (scale {5} vs {6}, "
              "zero point {7} vs {8}); re-quantize with block_size >= 32 ({9})",
              name, f.groupSize, n, first, g, s, s2, unsigned(z), unsigned(z2),
              toString(std::move(e))));
        return Error::success();
      }
      scales[n * G2 + g2] = s;
      zeros[n * G2 + g2] = z;
    }
  f.groupSize = unsigned(32);
  q.group = 32;
  q.numGroups = G2;
  if (G2 == 1) {
    f.groupSize = 0;
    q.group = q.K;
  }
  q.scales = std::move(scales);
  q.zeros = std::move(zeros);
  return Error::success();
}

Expected<const MemoryBuffer *> WeightFiles::file(StringRef name,
                                                 SmallString<256> &path) {
  path = name;
  if (!sys::path::is_absolute(path) && !dir_.empty()) {
    path = dir_;
    sys::path::append(path, name);
  }
  auto it = files_.find(path);
  if (it == files_.end()) {
    auto buf = MemoryBuffer::getFile(path, /*IsText=*/false,
                                     /*RequiresNullTerminator=*/false);
    if (!buf)
      return fail("cannot read weight file '" + path + "': " + buf.getError().message());
    it = files_.try_emplace(path, std::move(*buf)).first;
  }
  return it->second.get();
}

Expected<StringRef> WeightFiles::bytes(StringRef weight, StringRef name, uint64_t off,
                                       uint64_t len) {
  SmallString<256> path;
  auto mb = file(name, path);
  if (!mb)
    return mb.takeError();
  StringRef all = (*mb)->getBuffer();
  if (off > all.size() || len > all.size() - off)
    return fail("weight '" + weight + "': bytes [" + Twine(off) + ", " + Twine(off + len) +
                ") lie beyond the end of '" + path + "'");
  return all.substr(off, len);
}

Expected<kernels::PackedWeights> packPrequantizedWeight(Value v, StringRef dir,
                                                        IsaTier tier) {
  WeightFiles files(dir.str());
  return packPrequantizedWeight(v, files, tier);
}

Expected<kernels::PackedWeights> packPrequantizedWeight(Value v, WeightFiles &files,
                                                        IsaTier tier) {
  auto w = cast<llmc::WeightOp>(v.getDefiningOp());
  auto read = [&](StringRef file, uint64_t off, uint64_t len) {
    return files.bytes(w.getName(), file, off, len);
  };
  auto q = readPrequantizedWeight(w, read);
  if (!q)
    return q.takeError();
  if (Error e = toKernelFormat(*q, w.getName()))
    return std::move(e);
  if (Error e = q->format.validate())
    return std::move(e);
  return kernels::packWeights(*q, tier);
}

} // namespace llmc::codegen
