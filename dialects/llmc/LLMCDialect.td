//===- LLMCDialect.td - llmc dialect definition ------------*- tablegen -*-===//
//
// The `llmc` dialect: ONNX-like graph operations on builtin ranked tensors
// with value semantics, the fused transformer operations produced by the
// fusion passes, quantized weights, and the `#llmc.target` description.
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_DIALECT_TD
#define LLMC_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def LLMC_Dialect : Dialect {
  let name = "llmc";
  let cppNamespace = "::llmc";
  let summary = "Graph-level dialect of the llmc LLM inference compiler";
  let description = [{
    Operations work on builtin ranked tensors with value semantics; dynamic
    dimensions (`?`) are allowed for batch, sequence and past-length dims.
    Functions are `func.func`. Elementwise operations follow numpy
    broadcasting like their ONNX counterparts. Weights are never stored in
    the IR: `llmc.weight` references bytes of an external file.

    The compilation target is the `#llmc.target` attribute placed on the
    module under the name `llmc.target`.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect"];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let hasOperationAttrVerify = 1;
  let extraClassDeclaration = [{
    /// Name of the module attribute holding the #llmc.target.
    static constexpr ::llvm::StringLiteral getTargetAttrName() {
      return ::llvm::StringLiteral("llmc.target");
    }
  private:
    void registerAttributes();
    void registerTypes();
  public:
  }];
}

/// Base class of all llmc operations. All graph ops are side-effect free.
class LLMC_Op<string mnemonic, list<Trait> traits = []>
    : Op<LLMC_Dialect, mnemonic, !listconcat(traits, [Pure])>;

/// C++ traits implemented in LLMCTraits.h (namespace llmc::OpTrait).
class LLMC_Trait<string name> : NativeOpTrait<name> {
  let cppNamespace = "::llmc::OpTrait";
}

#endif // LLMC_DIALECT_TD
