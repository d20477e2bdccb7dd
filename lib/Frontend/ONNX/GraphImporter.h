//===- GraphImporter.h - Importer state shared by op importers --*- C++ -*-===//
//
// The importer works in three steps over the ONNX graph (which ONNX requires
// to be topologically sorted):
//
//  1. infer: for every node, in order, the op's infer function computes the
//     element type and symbolic dims of each output, and folds the contents
//     of small integer tensors (shape plumbing) where it can. It also says
//     which inputs it consumes as attributes (e.g. a Reshape's shape), so
//     those need no IR.
//  2. mark: walking back from the graph outputs, a node is needed when one
//     of its outputs is needed and not a known constant.
//  3. emit: needed nodes are emitted in order; their operands are
//     materialized on demand (block arguments, llmc.weight for
//     initializers, llmc.constant for folded values).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_FRONTEND_ONNX_GRAPHIMPORTER_H
#define LLMC_LIB_FRONTEND_ONNX_GRAPHIMPORTER_H

#include "ModelLoader.h"
#include "SymbolicDim.h"

#include "llmc/Frontend/ONNXImporter.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallBitVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

namespace llmc::onnx_import {

class GraphImporter;

/// Contents of small integer/bool tensors are tracked up to this many
/// elements.
constexpr int64_t kMaxContentElements = 4096;

/// What the importer knows about one ONNX value.
struct TensorInfo {
  enum class Source { Input, Initializer, Node };
  Source source = Source::Node;
  /// Argument, initializer or node index.
  int index = -1;

  mlir::Type elemType;
  llvm::SmallVector<DimExpr, 4> dims;
  /// Row-major contents of a small integer or bool tensor; elements may be
  /// symbolic (e.g. the output of Shape on a tensor with dynamic dims).
  std::optional<llvm::SmallVector<DimExpr, 4>> content;
  /// The fully known value of a small tensor of any element type.
  mlir::DenseElementsAttr constant;

  /// The IR value, once materialized.
  mlir::Value value;
  bool needed = false;

  int64_t rank() const { return int64_t(dims.size()); }
  /// All dims are constants.
  bool hasStaticShape() const;
  std::optional<int64_t> staticDim(int64_t i) const {
    return dims[i].getConstant();
  }
  /// The number of elements when the shape is static.
  std::optional<int64_t> staticNumElements() const;
  /// The value is known at import time (constant attr or constant content).
  bool isConstant() const;
  /// Integer contents when all are constants.
  std::optional<llvm::SmallVector<int64_t>> constInts() const;
};

/// The state of one node while it is inferred and emitted.
class NodeContext {
public:
  NodeContext(GraphImporter &imp, const onnx::NodeProto &node, int64_t opset,
              llvm::SmallBitVector &consumed);

  const onnx::NodeProto &node() const { return nodeProto; }
  llvm::StringRef opType() const { return nodeProto.op_type(); }
  int64_t opset() const { return opsetVersion; }
  GraphImporter &importer() { return imp; }
  mlir::MLIRContext *getContext();
  SymbolTable &symbols();

  // --- Inputs and outputs ---------------------------------------------------
  unsigned numInputs() const { return unsigned(nodeProto.input_size()); }
  /// Input `i` is given (optional inputs may be absent or named "").
  bool hasInput(unsigned i) const;
  TensorInfo &input(unsigned i);
  unsigned numOutputs() const { return unsigned(nodeProto.output_size()); }
  bool hasOutput(unsigned i) const;
  TensorInfo &output(unsigned i);
  /// Set the element type and dims of output `i` (clears contents).
  TensorInfo &setOutput(unsigned i, mlir::Type elemType,
                        llvm::ArrayRef<DimExpr> dims);
  /// Input `i` is used as an attribute; emitting the node does not need it.
  void consumeAsAttribute(unsigned i) { consumed.set(i); }
  bool isConsumedAsAttribute(unsigned i) const { return consumed.test(i); }
  /// Output `i` is read by a later node or is a graph output.
  bool isOutputUsed(unsigned i) const;

  // --- Attributes -----------------------------------------------------------
  const onnx::AttributeProto *attr(llvm::StringRef name) const;
  llvm::Expected<int64_t> attrInt(llvm::StringRef name, int64_t dflt) const;
  llvm::Expected<float> attrFloat(llvm::StringRef name, float dflt) const;
  llvm::Expected<std::string> attrString(llvm::StringRef name,
                                         llvm::StringRef dflt) const;
  /// For attributes already validated by attrInt/attrFloat: the value, or
  /// `dflt` when absent or malformed.
  int64_t intAttrOr(llvm::StringRef name, int64_t dflt) const;
  float floatAttrOr(llvm::StringRef name, float dflt) const;
  /// std::nullopt when the attribute is absent.
  llvm::Expected<std::optional<llvm::SmallVector<int64_t>>>
  attrInts(llvm::StringRef name) const;

  /// Constant integer contents of input `i` (error naming `what` if not
  /// known at import time). Marks the input as consumed.
  llvm::Expected<llvm::SmallVector<int64_t>> constIntsInput(unsigned i,
                                                             llvm::StringRef what);

  // --- Errors ---------------------------------------------------------------
  /// "node 'NAME' (OpType): MSG"
  llvm::Error error(const llvm::Twine &msg) const;
  std::string describe() const;

  // --- Emission ---------------------------------------------------------------
  mlir::OpBuilder &builder();
  mlir::Location loc();
  /// The IR value of input `i`, materialized on demand.
  llvm::Expected<mlir::Value> operand(unsigned i);
  /// The IR type of output `i` from the inferred dims.
  mlir::RankedTensorType outputType(unsigned i);
  void setResult(unsigned i, mlir::Value v);
  /// A scalar or small constant of `type` with the given values.
  mlir::Value constantOf(mlir::RankedTensorType type,
                         mlir::DenseElementsAttr value);

private:
  GraphImporter &imp;
  const onnx::NodeProto &nodeProto;
  int64_t opsetVersion;
  llvm::SmallBitVector &consumed;
  /// Stands in for absent inputs/outputs, so malformed nodes get an error
  /// from their infer function rather than a crash.
  TensorInfo scratch;
};

/// Builds the MLIR type of a TensorInfo: constant dims static, others `?`.
mlir::RankedTensorType tensorTypeOf(const TensorInfo &info);

/// The MLIR element type of an ONNX data type, or null.
mlir::Type elementTypeOf(mlir::MLIRContext *ctx, int32_t dataType);

/// Set `info.constant` (and, for small integer tensors, `info.content`).
void setConstantValue(TensorInfo &info, mlir::DenseElementsAttr value);
/// Set integer contents; when all are constants `info.constant` too.
void setContentValue(TensorInfo &info, llvm::ArrayRef<DimExpr> content);
/// A DenseElementsAttr of `type` from the little-endian bytes of an ONNX
/// tensor (1 byte per bool).
mlir::DenseElementsAttr denseFromBytes(mlir::RankedTensorType type,
                                       llvm::StringRef bytes);

class GraphImporter {
public:
  GraphImporter(mlir::MLIRContext &ctx, LoadedModel &model,
                const ImportOptions &options);

  llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>> run();

  mlir::MLIRContext *getContext() { return &ctx; }
  SymbolTable &symbols() { return syms; }
  mlir::OpBuilder &builder() { return b; }
  LoadedModel &model() { return loaded; }

  TensorInfo *lookup(llvm::StringRef name);
  TensorInfo &define(llvm::StringRef name);
  llvm::Expected<mlir::Value> materialize(llvm::StringRef name,
                                          TensorInfo &info);
  bool isUsed(llvm::StringRef name) const { return usedNames.count(name); }
  /// An llmc.constant holding `value` (one per distinct value and type).
  mlir::Value getConstant(mlir::Location loc, mlir::RankedTensorType type,
                          mlir::DenseElementsAttr value);
  mlir::Location nodeLoc(const onnx::NodeProto &node);
  /// Where the bytes of initializer `info` are, as an attribute for
  /// pre-quantized weights: `{name, file, offset, length}` (file absolute
  /// when the options say so) for raw or external data, or the values as a
  /// DenseElementsAttr for typed-field initializers.
  llvm::Expected<mlir::Attribute> initializerRef(const TensorInfo &info);
  /// The location of the bytes of initializer `info`, file made absolute
  /// when the options say so.
  llvm::Expected<TensorLocation> initializerLocation(const TensorInfo &info);

  /// An llmc.reshape result that merges its source's leading dims into one
  /// (`x.view(-1, K)`), with the source and its dims. HF's Conv1D flattens
  /// [batch, seq, K] this way, multiplies (Gemm) and restores
  /// [batch, seq, N] (`view(size_out)`), which llmc.reshape cannot express
  /// (two run-time dims split out of their product): Gemm, MatMul and
  /// MatMulNBits work on the source's rows instead (emitOnRows), as do binary
  /// elementwise ops with a per-row-constant operand (a bias), and the
  /// restoring reshape returns their result.
  struct Flattened {
    mlir::Value source;
    llvm::SmallVector<DimExpr, 4> dims;
  };
  llvm::DenseMap<mlir::Value, Flattened> flattened;

private:
  llvm::Error checkSupportedOps();
  llvm::Error defineInputs();
  llvm::Error defineInitializers();
  llvm::Error inferNodes();
  llvm::Error refineWithValueInfo(llvm::StringRef name, TensorInfo &info,
                                  const onnx::NodeProto &node);
  void markNeeded();
  llvm::Error emit();
  llvm::Expected<mlir::Value> materializeInitializer(TensorInfo &info);

  mlir::MLIRContext &ctx;
  LoadedModel &loaded;
  const ImportOptions &options;
  SymbolTable syms;
  mlir::OpBuilder b;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::Location fileLoc;

  llvm::StringMap<TensorInfo> values;
  llvm::DenseMap<std::pair<mlir::Type, mlir::Attribute>, mlir::Value> constants;
  llvm::StringMap<const onnx::ValueInfoProto *> valueInfos;
  llvm::StringSet<> usedNames;
  std::vector<std::string> argNames;
  std::vector<llvm::SmallBitVector> consumedInputs; // per node
  std::vector<int64_t> nodeOpsets;                   // per node
  std::vector<bool> nodeNeeded;
};

} // namespace llmc::onnx_import

#endif // LLMC_LIB_FRONTEND_ONNX_GRAPHIMPORTER_H
