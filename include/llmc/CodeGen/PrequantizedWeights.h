//===- PrequantizedWeights.h - ONNX pre-quantized weights -> kernels -*- C++ -*-===//
//
// The ONNX importer records a pre-quantized matmul weight (MatMulNBits,
// DequantizeLinear, MatMulInteger) as an `llmc.weight` of `!llmc.qweight`
// type whose `#llmc.quant` layout names the ONNX layout and whose
// `llmc.prequant` dictionary says where the scales and zero points lie:
//
//   llmc.weight "B" from "/abs/model.onnx" at OFFSET {llmc.prequant = {
//       codes_length = BYTES, [codes_signed = BOOL,]
//       scales = {name, file, offset, length} | dense<...>,
//       [zero_points = {...} | dense<...>, zero_point_type = TYPE]}}
//     : !llmc.qweight<KxN, #llmc.quant<bits, group_size, symmetric,
//                                      scale_type, layout = "onnx....">>
//
// Layouts:
//  - "onnx.matmulnbits": codes [N][ceil(K/block)][block*bits/8] u8, row n's
//    codes in K order, low nibble first; scales [N][n_blocks]; zero points
//    u8 [N][ceil(n_blocks*bits/8)] packed like the codes, default 2^(bits-1).
//  - "onnx.kn": codes [K][N] int4/uint4/int8/uint8 (4-bit: two per byte in
//    flat order, low nibble first); scales one (per tensor), [N] (per
//    column) or [ceil(K/block)][N] (blocks along K); zero points the codes'
//    type in the scales' shape, default 0.
//
// Reading turns them into kernels::QuantizedWeights in the kernels' [N][K]
// layout (unsigned codes, u8 zero points) without going through fp32; the
// result dequantizes to exactly the ONNX values. A format the kernels cannot
// run exactly is converted only when that is exact (groups of 16 whose
// neighbours share scale and zero point become groups of 32; zero points all
// equal to 2^(bits-1) become a symmetric format); otherwise it is an error.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_PREQUANTIZEDWEIGHTS_H
#define LLMC_CODEGEN_PREQUANTIZEDWEIGHTS_H

#include "llmc/Kernels/PackedLayout.h"
#include "llmc/Kernels/Quantize.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <memory>
#include <string>

namespace llmc {
class WeightOp;
namespace codegen {

/// The `#llmc.quant` layouts the ONNX importer records.
inline constexpr llvm::StringLiteral kOnnxMatMulNBitsLayout = "onnx.matmulnbits";
inline constexpr llvm::StringLiteral kOnnxKNLayout = "onnx.kn";
/// The discardable attribute on the llmc.weight.
inline constexpr llvm::StringLiteral kPrequantAttrName = "llmc.prequant";

/// Bytes [offset, offset + length) of `file` (an error when out of range).
using ByteReader = llvm::function_ref<llvm::Expected<llvm::StringRef>(
    llvm::StringRef file, uint64_t offset, uint64_t length)>;

/// The files weights live in, each mapped once; relative names are resolved
/// against the model's directory `dir`.
class WeightFiles {
public:
  explicit WeightFiles(std::string dir) : dir_(std::move(dir)) {}
  /// The mapped file `name`; `path` receives the path it was read from.
  llvm::Expected<const llvm::MemoryBuffer *> file(llvm::StringRef name,
                                                  llvm::SmallString<256> &path);
  /// Bytes [offset, offset + length) of file `name`, holding weight `weight`
  /// (named in the error when they lie beyond the end).
  llvm::Expected<llvm::StringRef> bytes(llvm::StringRef weight, llvm::StringRef name,
                                        uint64_t offset, uint64_t length);

private:
  std::string dir_;
  llvm::StringMap<std::unique_ptr<llvm::MemoryBuffer>> files_;
};

/// `v` is defined by an llmc.weight of `!llmc.qweight` type.
bool isPrequantizedWeight(mlir::Value v);

/// The ONNX-side bytes of `w` as kernels::QuantizedWeights [N][K], in the
/// format the ONNX model states (group size may still be 16).
llvm::Expected<kernels::QuantizedWeights> readPrequantizedWeight(WeightOp w,
                                                                 ByteReader read);

/// Make `q` a format the kernels run (WeightFormat::validate), exactly, or
/// fail saying why. `name` is for messages.
llvm::Error toKernelFormat(kernels::QuantizedWeights &q, llvm::StringRef name);

/// readPrequantizedWeight + toKernelFormat + packWeights, reading `files`.
llvm::Expected<kernels::PackedWeights>
packPrequantizedWeight(mlir::Value v, WeightFiles &files, IsaTier tier);
/// The same with files of its own (relative names resolved against `dir`).
llvm::Expected<kernels::PackedWeights>
packPrequantizedWeight(mlir::Value v, llvm::StringRef dir, IsaTier tier);

} // namespace codegen
} // namespace llmc

#endif // LLMC_CODEGEN_PREQUANTIZEDWEIGHTS_H
