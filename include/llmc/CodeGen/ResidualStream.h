//===- ResidualStream.h - The residual stream of a planned program -*- C++ -*-===//
//
// QuaRot's rotation of the residual stream (Quant/RotationFolding.h) can be
// folded into the weights only when the stream is touched by nothing but
//
//   writers  the embedding gather (its output starts the stream) and matmuls
//            whose output is only added into it (o_proj, down_proj);
//   readers  RMSNorms whose output feeds matmuls only (q/k/v, gate/up, the
//            lm_head after the final norm), and the residual adds themselves;
//
// and the logits come out of a reader (not out of the rotated stream). This
// checks that on the plan's dataflow: a step's operand is produced by the
// last earlier step writing arena memory that overlaps it (the plan reuses
// regions, so a later overlapping write would have clobbered the value). It
// also needs every weight it rewrites to serve that one role (a slot read
// by two steps, or a pre-quantized weight that never passes through fp32,
// cannot be rewritten).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_CODEGEN_RESIDUALSTREAM_H
#define LLMC_CODEGEN_RESIDUALSTREAM_H

#include "llmc/CodeGen/Plan.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace llmc::codegen {

/// What each weight slot of a plan is to its residual stream.
struct ResidualStream {
  /// The stream's width d (the embedding's row length).
  int64_t dim = 0;
  /// The dense [V, d] embedding table the stream starts from.
  int32_t embedding = -1;
  /// Per slot: true for a dense RMSNorm weight of a norm that reads the
  /// stream (it becomes all ones, folded into its readers).
  std::vector<bool> norm;
  /// Per slot: for a packed matmul slot reading a stream norm's output, that
  /// norm's weight slot; -1 otherwise.
  std::vector<int32_t> readsNorm;
  /// Per slot: true for a packed matmul slot whose output is added into the
  /// stream.
  std::vector<bool> writes;

  size_t numNorms() const;
  size_t numReaders() const;
  size_t numWriters() const;
};

/// The residual stream of `plan`, or an error saying which step or weight
/// breaks the conditions above. `prequantized[i]` marks slots packed from
/// pre-quantized ONNX bytes.
llvm::Expected<ResidualStream> analyzeResidualStream(const ProgramPlan &plan,
                                                     const std::vector<bool> &prequantized);

} // namespace llmc::codegen

#endif // LLMC_CODEGEN_RESIDUALSTREAM_H
