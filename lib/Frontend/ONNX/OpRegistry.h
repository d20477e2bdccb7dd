//===- OpRegistry.h - ONNX operator importers -------------------*- C++ -*-===//
//
// One entry per (domain, op type, opset range): an infer function (types,
// symbolic dims, folding of small integer contents) and an emit function
// (builds llmc ops). Families of ops live in their own files (Ops*.cpp) and
// add their entries with a register function.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_FRONTEND_ONNX_OPREGISTRY_H
#define LLMC_LIB_FRONTEND_ONNX_OPREGISTRY_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace llmc::onnx_import {

class NodeContext;

using InferFn = llvm::Error (*)(NodeContext &);
using EmitFn = llvm::Error (*)(NodeContext &);

struct OpDef {
  llvm::StringRef domain; // "" is the default (ai.onnx) domain
  llvm::StringRef opType;
  int64_t minVersion; // the op's opset range this entry handles
  int64_t maxVersion;
  InferFn infer;
  EmitFn emit;
};

class OpRegistry {
public:
  void add(const OpDef &def) { defs.push_back(def); }
  /// The entry for `opType` of `domain` at opset `version`, or null.
  const OpDef *lookup(llvm::StringRef domain, llvm::StringRef opType,
                      int64_t version) const;
  const std::vector<OpDef> &all() const { return defs; }

  static const OpRegistry &get();

private:
  std::vector<OpDef> defs;
};

// Registration of each op family (one file each).
void registerElementwiseOps(OpRegistry &r); // OpsElementwise.cpp
void registerShapeOps(OpRegistry &r);       // OpsShape.cpp
void registerTensorOps(OpRegistry &r);      // OpsTensor.cpp
void registerNNOps(OpRegistry &r);          // OpsNN.cpp
void registerQuantizedOps(OpRegistry &r);   // OpsQuantized.cpp
void registerAttentionOps(OpRegistry &r);   // OpsAttention.cpp
void registerMoEOps(OpRegistry &r);         // OpsMoE.cpp
void registerControlFlowOps(OpRegistry &r); // OpsControlFlow.cpp

class LoadedModel;
/// Replace the pre-quantized patterns that span several ONNX nodes
/// (DequantizeLinear -> MatMul, quantize_dynamic's DynamicQuantizeLinear ->
/// MatMulInteger -> Cast -> Mul) by importer-internal QMatMul nodes (domain
/// "llmc.internal"). Returns whether anything changed. OpsQuantized.cpp.
bool rewriteQuantizedPatterns(LoadedModel &model);

} // namespace llmc::onnx_import

#endif // LLMC_LIB_FRONTEND_ONNX_OPREGISTRY_H
