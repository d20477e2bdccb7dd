//===- WeightReader.cpp - Weight expressions evaluated at compile time ---===//
#include "WeightReader.h"

#include "llmc/Kernels/Half.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstring>

using namespace llvm;
using namespace mlir;

namespace llmc::codegen {

namespace {

/// out[c][r] = in[r][c] for in [R][C], row-major, in 64 x 64 tiles: a
/// weight's transpose reads and writes whole cache lines instead of one
/// element per line (the naive loop's writes, K floats apart, missed the
/// caches on every element of a 2048 x 5632 matrix).
void transposeMatrix(const float *in, int64_t R, int64_t C, float *out) {
  constexpr int64_t T = 64;
  for (int64_t r0 = 0; r0 < R; r0 += T)
    for (int64_t c0 = 0; c0 < C; c0 += T) {
      const int64_t r1 = std::min(R, r0 + T), c1 = std::min(C, c0 + T);
      for (int64_t c = c0; c < c1; ++c)
        for (int64_t r = r0; r < r1; ++r)
          out[c * R + r] = in[r * C + c];
    }
}

} // namespace

Expected<Dense> WeightReader::eval(Value v) {
  Operation *op = v.getDefiningOp();
  if (auto w = dyn_cast_or_null<llmc::WeightOp>(op))
    return load(w);
  if (auto t = dyn_cast_or_null<llmc::TransposeOp>(op)) {
    ArrayRef<int64_t> perm = t.getPerm();
    if (perm.size() == 2 && perm[0] == 1 && perm[1] == 0)
      return evalTransposed(t.getX());
    auto in = eval(t.getX());
    if (!in)
      return in.takeError();
    return transpose(*in, perm);
  }
  if (auto d = dyn_cast_or_null<llmc::DequantizeOp>(op)) {
    auto nk = dequantizedNK(d);
    if (!nk)
      return nk.takeError();
    const int64_t perm[] = {1, 0};
    return transpose(*nk, perm);
  }
  if (auto c = dyn_cast_or_null<llmc::ConcatOp>(op)) {
    std::vector<Dense> parts;
    for (Value p : c.getInputs()) {
      auto d = eval(p);
      if (!d)
        return d.takeError();
      parts.push_back(std::move(*d));
    }
    int64_t axis = c.getAxisAttr().getInt();
    if (axis < 0)
      axis += int64_t(parts[0].shape.size());
    return concat(parts, axis);
  }
  if (auto r = dyn_cast_or_null<llmc::ReshapeOp>(op)) {
    auto in = eval(r.getX());
    if (!in)
      return in.takeError();
    auto t = cast<RankedTensorType>(r.getType());
    in->shape.assign(t.getShape().begin(), t.getShape().end());
    return in;
  }
  if (auto c = dyn_cast_or_null<llmc::CastOp>(op))
    return eval(c.getX());
  if (isa_and_nonnull<llmc::AddOp, llmc::SubOp, llmc::MulOp, llmc::DivOp>(op))
    return arith(op);
  if (auto c = dyn_cast_or_null<llmc::ConstantOp>(op)) {
    // Small float initializers kept in the IR (e.g. a MatMulNBits bias).
    auto attr = dyn_cast<DenseElementsAttr>(c.getValue());
    auto type = dyn_cast<RankedTensorType>(c.getType());
    if (!attr || !type || !isa<FloatType>(type.getElementType()))
      return createStringError(inconvertibleErrorCode(),
                               "only dense float constants can be weights");
    Dense d;
    d.shape.assign(type.getShape().begin(), type.getShape().end());
    for (const APFloat &f : attr.getValues<APFloat>())
      d.data.push_back(float(f.convertToDouble()));
    return d;
  }
  return createStringError(inconvertibleErrorCode(),
                           "cannot evaluate a weight expression at compile time");
}

Expected<Dense> WeightReader::evalTransposed(Value v) {
  Operation *op = v.getDefiningOp();
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || type.getRank() != 2)
    return createStringError(inconvertibleErrorCode(),
                             "a matmul weight must be 2-D");
  if (auto t = dyn_cast_or_null<llmc::TransposeOp>(op)) {
    ArrayRef<int64_t> perm = t.getPerm();
    if (perm.size() == 2 && perm[0] == 1 && perm[1] == 0)
      return eval(t.getX());
  }
  if (auto c = dyn_cast_or_null<llmc::ConcatOp>(op)) {
    int64_t axis = c.getAxisAttr().getInt();
    if (axis == 1 || axis == -1) {
      std::vector<Dense> parts;
      for (Value p : c.getInputs()) {
        auto d = evalTransposed(p);
        if (!d)
          return d.takeError();
        parts.push_back(std::move(*d));
      }
      return concat(parts, 0);
    }
  }
  if (auto c = dyn_cast_or_null<llmc::CastOp>(op))
    return evalTransposed(c.getX());
  if (auto d = dyn_cast_or_null<llmc::DequantizeOp>(op))
    return dequantizedNK(d);
  auto d = eval(v); // 2-D: the value's type was checked above
  if (!d)
    return d.takeError();
  const int64_t perm[] = {1, 0};
  return transpose(*d, perm);
}

Expected<Dense> WeightReader::arith(Operation *op) {
  auto a = eval(op->getOperand(0));
  if (!a)
    return a.takeError();
  auto b = eval(op->getOperand(1));
  if (!b)
    return b.takeError();
  if (a->numel() != b->numel() && a->numel() != 1 && b->numel() != 1)
    return createStringError(inconvertibleErrorCode(),
                             "weight arithmetic broadcasts only a single value");
  Dense out = a->numel() >= b->numel() ? *a : *b;
  auto type = cast<RankedTensorType>(op->getResult(0).getType());
  out.shape.assign(type.getShape().begin(), type.getShape().end());
  for (int64_t i = 0, n = int64_t(out.data.size()); i < n; ++i) {
    const float x = a->data[a->numel() == 1 ? 0 : i], y = b->data[b->numel() == 1 ? 0 : i];
    out.data[i] = isa<llmc::AddOp>(op)   ? x + y
                  : isa<llmc::SubOp>(op) ? x - y
                  : isa<llmc::MulOp>(op) ? x * y
                                         : x / y;
  }
  return out;
}

Expected<Dense> WeightReader::dequantizedNK(llmc::DequantizeOp d) {
  auto w = d.getW().getDefiningOp<llmc::WeightOp>();
  if (!w)
    return createStringError(inconvertibleErrorCode(),
                             "llmc.dequantize must read an llmc.weight");
  auto q = readPrequantizedWeight(w, [&](StringRef file, uint64_t off, uint64_t len) {
    return files_.bytes(w.getName(), file, off, len);
  });
  if (!q)
    return q.takeError();
  Dense out;
  out.shape = {q->N, q->K};
  out.data.resize(size_t(q->N * q->K));
  for (int64_t n = 0; n < q->N; ++n)
    for (int64_t k = 0; k < q->K; ++k)
      out.data[size_t(n * q->K + k)] = q->weight(n, k);
  return out;
}

Expected<Dense> WeightReader::load(llmc::WeightOp w) {
  SmallString<256> path;
  auto mbOr = files_.file(w.getFile(), path);
  if (!mbOr)
    return mbOr.takeError();
  auto type = dyn_cast<RankedTensorType>(w.getType());
  if (!type || !type.hasStaticShape())
    return createStringError(inconvertibleErrorCode(),
                             "weight '%s': pre-quantized (!llmc.qweight) or "
                             "dynamically shaped weights are not supported yet",
                             w.getName().str().c_str());
  Dense d;
  d.shape.assign(type.getShape().begin(), type.getShape().end());
  int64_t n = d.numel();
  Type et = type.getElementType();
  unsigned eb = et.isF32() ? 4 : (et.isF16() || et.isBF16()) ? 2 : 0;
  if (!eb)
    return createStringError(inconvertibleErrorCode(),
                             "weight '%s': element type must be f32, f16 or bf16",
                             w.getName().str().c_str());
  uint64_t off = w.getOffsetAttr().getInt();
  const MemoryBuffer &mb = **mbOr;
  if (off + uint64_t(n) * eb > mb.getBufferSize())
    return createStringError(inconvertibleErrorCode(),
                             "weight '%s' lies beyond the end of '%s'",
                             w.getName().str().c_str(), path.c_str());
  const char *src = mb.getBufferStart() + off;
  d.data.resize(n);
  if (eb == 4) {
    std::memcpy(d.data.data(), src, n * 4);
  } else {
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      d.data[i] = et.isF16() ? kernels::fp16ToFp32(h) : kernels::bf16ToFp32(h);
    }
  }
  return d;
}

Dense WeightReader::transpose(const Dense &in, ArrayRef<int64_t> perm) {
  size_t r = in.shape.size();
  Dense out;
  out.shape.resize(r);
  for (size_t i = 0; i < r; ++i)
    out.shape[i] = in.shape[perm[i]];
  if (r == 2 && perm[0] == 1) { // a weight's [N, K] <-> [K, N]: by tiles
    out.data.resize(in.data.size());
    transposeMatrix(in.data.data(), in.shape[0], in.shape[1], out.data.data());
    return out;
  }
  std::vector<int64_t> inStride(r, 1);
  for (size_t i = r; i-- > 1;)
    inStride[i - 1] = inStride[i] * in.shape[i];
  out.data.resize(in.data.size());
  std::vector<int64_t> idx(r, 0);
  for (size_t lin = 0; lin < out.data.size(); ++lin) {
    int64_t src = 0;
    for (size_t i = 0; i < r; ++i)
      src += idx[i] * inStride[perm[i]];
    out.data[lin] = in.data[src];
    for (size_t i = r; i-- > 0;) {
      if (++idx[i] < out.shape[i])
        break;
      idx[i] = 0;
    }
  }
  return out;
}

Dense WeightReader::concat(const std::vector<Dense> &parts, int64_t axis) {
  Dense out;
  out.shape = parts[0].shape;
  out.shape[axis] = 0;
  for (const Dense &p : parts)
    out.shape[axis] += p.shape[axis];
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i)
    outer *= out.shape[i];
  for (size_t i = axis + 1; i < out.shape.size(); ++i)
    inner *= out.shape[i];
  out.data.reserve(out.numel());
  for (int64_t o = 0; o < outer; ++o)
    for (const Dense &p : parts) {
      int64_t chunk = p.shape[axis] * inner;
      out.data.insert(out.data.end(), p.data.begin() + o * chunk,
                      p.data.begin() + (o + 1) * chunk);
    }
  return out;
}

} // namespace llmc::codegen
