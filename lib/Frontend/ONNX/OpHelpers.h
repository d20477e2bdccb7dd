//===- OpHelpers.h - Helpers shared by the op importers ---------*- C++ -*-===//
#ifndef LLMC_LIB_FRONTEND_ONNX_OPHELPERS_H
#define LLMC_LIB_FRONTEND_ONNX_OPHELPERS_H

#include "GraphImporter.h"

#include <functional>

namespace llmc::onnx_import {

/// A dim nothing names (fresh symbol).
DimExpr freshDim(NodeContext &nc);

/// The dims named by a 1-D shape input (ConstantOfShape, Expand): its folded
/// contents, or one fresh dim per element when only its length is known; an
/// error when it is not 1-D or its length is unknown.
llvm::Expected<llvm::SmallVector<DimExpr, 4>>
shapeInputDims(NodeContext &nc, const TensorInfo &shape);

/// `axis` in [-rank, rank) normalized to [0, rank), or an error.
llvm::Expected<int64_t> normalizeAxis(NodeContext &nc, int64_t axis,
                                      int64_t rank, llvm::StringRef what = "axis");

/// Numpy broadcasting of symbolic shapes. Two different symbolic dims give a
/// fresh dim (either may be 1 at run time).
llvm::Expected<llvm::SmallVector<DimExpr, 4>>
broadcastShapes(NodeContext &nc, llvm::ArrayRef<llvm::ArrayRef<DimExpr>> shapes);

/// Static dims of `info`, or std::nullopt.
std::optional<llvm::SmallVector<int64_t>> staticShape(const TensorInfo &info);

/// The flat index into a tensor of shape `inShape` (right-aligned,
/// broadcast) read for flat output index `outIndex` of `outShape`.
int64_t broadcastSourceIndex(int64_t outIndex, llvm::ArrayRef<int64_t> outShape,
                             llvm::ArrayRef<int64_t> inShape);

/// Elementwise folding of integer contents: when every input has contents
/// and all shapes are static, computes the output contents with `fn`
/// (std::nullopt elements become fresh symbols) and sets them on output 0.
void foldElementwise(
    NodeContext &nc, llvm::ArrayRef<unsigned> inputs,
    const std::function<std::optional<DimExpr>(llvm::ArrayRef<DimExpr>)> &fn);

/// The MLIR type of a tensor of `elem` with `dims` (constants static).
mlir::RankedTensorType typeFromDims(mlir::Type elem, llvm::ArrayRef<DimExpr> dims);

/// Emit `x` (dims `inDims`) reshaped to `outDims` with llmc.reshape (ONNX
/// 0/-1 semantics), falling back to reshape + transpose for unsqueeze and
/// squeeze patterns that one reshape cannot express with dynamic dims.
/// A flatten of leading dims is recorded (GraphImporter::Flattened), and
/// reshaping it back to its source's dims returns the source.
llvm::Expected<mlir::Value> emitReshape(NodeContext &nc, mlir::Value x,
                                        llvm::ArrayRef<DimExpr> inDims,
                                        llvm::ArrayRef<DimExpr> outDims,
                                        mlir::RankedTensorType outType);

/// Output 0 of a layer applied to each row of `x` ([M, K] -> [M, N]), as
/// `build(rows, type)` emits it. When `rowwise` and x is a recorded flatten
/// of [d0.., K] (GraphImporter::Flattened), the layer runs on the source's
/// rows ([d0.., N]) and its result is flattened back (and recorded, so that
/// the reshape restoring the dims returns it); otherwise on x itself.
llvm::Expected<mlir::Value> emitOnRows(
    NodeContext &nc, mlir::Value x, bool rowwise,
    llvm::function_ref<llvm::Expected<mlir::Value>(mlir::Value, mlir::RankedTensorType)>
        build);

/// The run-time size of dim `d` as a rank-0 i64 value: dim i of the first
/// graph input that has `d` among its dims, read with shape_of + gather (the
/// form CodeGen recognizes for token and cache lengths). An error when no
/// input has it.
llvm::Expected<mlir::Value> emitRunTimeDim(NodeContext &nc, const DimExpr &d);

/// "[batch_size, 8, ?]" for messages.
std::string dimsToString(NodeContext &nc, llvm::ArrayRef<DimExpr> dims);

/// A rank-0 or 1-element DenseElementsAttr's value as double / int64.
std::optional<double> scalarAsDouble(mlir::DenseElementsAttr attr);

/// A splat constant of `type` with value `v` converted to its element type.
mlir::DenseElementsAttr splatOf(mlir::RankedTensorType type, double v);

} // namespace llmc::onnx_import

#endif // LLMC_LIB_FRONTEND_ONNX_OPHELPERS_H
