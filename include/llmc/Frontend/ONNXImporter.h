//===- ONNXImporter.h - ONNX model -> llmc dialect ---------------*- C++ -*-===//
//
// Imports an ONNX model (a ModelProto file, with optional external data
// files) into a module holding one `func.func` of `llmc` dialect operations
// on ranked tensors with value semantics.
//
//  * Arguments follow the graph's inputs, results its outputs, each tagged
//    with `llmc.onnx_name`; symbolic dims (ONNX dim_param) become `?` and
//    are recorded per argument/result as `llmc.dims = [...]` (a string per
//    named dim, an integer per static dim, "?" for anonymous ones).
//  * Weights are never copied into the IR: each initializer becomes an
//    `llmc.weight` naming the file (the .onnx itself for inline raw_data, or
//    the external-data file) and the byte offset/length of its data. Only
//    tiny initializers (<= ImportOptions::inlineConstantLimit elements) and
//    those stored in typed fields (float_data, int64_data, ...) become
//    `llmc.constant`.
//  * The exporter's shape plumbing (Shape -> Gather -> Unsqueeze -> Concat,
//    ConstantOfShape/Equal/Where around Expand, computed half head dims...)
//    is evaluated symbolically at import time; what it feeds becomes static
//    attributes where the dialect needs them.
//
// Every failure is an llvm::Error whose message starts with the file name:
// malformed protobuf, unsupported opset, missing or short external data,
// tensors whose byte size does not match their shape, and the list of every
// unsupported operator (op type, domain, node name) in one message.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_FRONTEND_ONNXIMPORTER_H
#define LLMC_FRONTEND_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir {
class MLIRContext;
} // namespace mlir

namespace llmc {

struct ImportOptions {
  /// Name of the imported function.
  std::string funcName = "main";
  /// Initializers with at most this many elements are imported as
  /// `llmc.constant` (their values are needed to fold shape computations);
  /// larger ones are always `llmc.weight` references.
  int64_t inlineConstantLimit = 16;
  /// Check every inferred type against the graph's value_info / output
  /// types (element type, rank, static dims) and fail on a mismatch. Static
  /// dims from value_info also refine dims the importer could not infer.
  bool checkValueInfo = true;
  /// Make weight file paths absolute (so the IR can be processed from any
  /// working directory). When false, paths are as resolved from the model
  /// path given.
  bool absoluteWeightPaths = true;
};

/// Import the ONNX model at `path`. Registers/loads the dialects it needs in
/// `ctx`. The returned module verifies.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importONNX(mlir::MLIRContext &ctx, llvm::StringRef path,
           const ImportOptions &options = ImportOptions());

/// The ONNX operators the importer supports, as "domain:OpType" ("" is the
/// default domain), sorted. For documentation and `llmc compile --help`.
std::vector<std::string> supportedONNXOps();

} // namespace llmc

#endif // LLMC_FRONTEND_ONNXIMPORTER_H
