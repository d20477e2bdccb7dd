//===- RefTensor.cpp - Host tensors for evaluating llmc ops ---------------===//

#include "llmc/OpEval/RefTensor.h"

#include "mlir/IR/BuiltinTypes.h"

#include <cmath>
#include <cstring>

using namespace llmc::ref;

llvm::Expected<ElementKind> llmc::ref::elementKindOf(mlir::Type type) {
  if (type.isF64())
    return ElementKind::F64;
  if (type.isF32())
    return ElementKind::F32;
  if (type.isF16())
    return ElementKind::F16;
  if (type.isBF16())
    return ElementKind::BF16;
  if (type.isInteger(1))
    return ElementKind::Bool;
  if (type.isIntOrIndex())
    return ElementKind::Int;
  std::string s;
  llvm::raw_string_ostream os(s);
  type.print(os);
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "reference executor: unsupported element type %s",
                                 s.c_str());
}

bool llmc::ref::isFloat(ElementKind kind) {
  return kind != ElementKind::Int && kind != ElementKind::Bool;
}

// bf16 keeps the top 16 bits of an f32, rounded to nearest even.
static double roundToBF16(double v) {
  float f = float(v);
  if (std::isnan(f))
    return v;
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7FFF + ((bits >> 16) & 1);
  bits &= 0xFFFF0000u;
  std::memcpy(&f, &bits, 4);
  return f;
}

double llmc::ref::roundTo(ElementKind kind, double v) {
  switch (kind) {
  case ElementKind::F64:
    return v;
  case ElementKind::F32:
    return double(float(v));
  case ElementKind::F16:
    return double(_Float16(float(v)));
  case ElementKind::BF16:
    return roundToBF16(v);
  case ElementKind::Int:
    return std::trunc(v);
  case ElementKind::Bool:
    return v != 0.0 ? 1.0 : 0.0;
  }
  return v;
}

RefTensor::RefTensor(std::vector<int64_t> shape, ElementKind kind)
    : shape(std::move(shape)), kind(kind) {
  data.assign(numel(), 0.0);
}

RefTensor::RefTensor(std::vector<int64_t> shape, ElementKind kind,
                     std::vector<double> values)
    : shape(std::move(shape)), kind(kind), data(std::move(values)) {}

int64_t RefTensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

std::vector<int64_t> RefTensor::strides() const {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;)
    s[d - 1] = s[d] * shape[d];
  return s;
}

void RefTensor::roundToKind() {
  if (kind == ElementKind::F64)
    return;
  for (double &v : data)
    v = roundTo(kind, v);
}

std::string RefTensor::shapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? "x" : "") + std::to_string(shape[i]);
  return s + "]";
}

llvm::Expected<std::vector<int64_t>>
llmc::ref::broadcastShapes(llvm::ArrayRef<int64_t> a, llvm::ArrayRef<int64_t> b) {
  size_t rank = std::max(a.size(), b.size());
  std::vector<int64_t> out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      return llvm::createStringError(
          llvm::inconvertibleErrorCode(),
          "reference executor: shapes do not broadcast (dim %zu: %lld vs %lld)",
          i, (long long)da, (long long)db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> llmc::ref::broadcastStrides(llvm::ArrayRef<int64_t> shape,
                                                 llvm::ArrayRef<int64_t> target) {
  std::vector<int64_t> s(target.size(), 0);
  int64_t stride = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    size_t t = i + (target.size() - shape.size());
    s[t] = shape[i] == 1 ? 0 : stride;
    stride *= shape[i];
  }
  return s;
}
