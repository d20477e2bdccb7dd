//===- LLMCAttrs.td - llmc attributes ----------------------*- tablegen -*-===//

#ifndef LLMC_ATTRS_TD
#define LLMC_ATTRS_TD

include "LLMCDialect.td"
include "LLMCEnums.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"

class LLMC_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<LLMC_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// Enum attributes: `#llmc<rope_convention half>`, printed as a bare keyword
// (`half`) inside op assembly.
//===----------------------------------------------------------------------===//

def LLMC_RopeConventionAttr
    : EnumAttr<LLMC_Dialect, LLMC_RopeConvention, "rope_convention">;
def LLMC_GeluApproximationAttr
    : EnumAttr<LLMC_Dialect, LLMC_GeluApproximation, "gelu_approximation">;
def LLMC_MoEActivationAttr
    : EnumAttr<LLMC_Dialect, LLMC_MoEActivation, "moe_activation">;

/// A `true`/`false` keyword parameter.
def LLMC_BoolParameter : AttrParameter<"bool", "boolean"> {
  let parser = "::llmc::detail::parseBoolParameter($_parser)";
  let printer = "$_printer << ($_self ? \"true\" : \"false\")";
}

//===----------------------------------------------------------------------===//
// #llmc.target
//===----------------------------------------------------------------------===//

def LLMC_TargetAttr : LLMC_Attr<"Target", "target"> {
  let summary = "description of the CPU the program is compiled for";
  let description = [{
    Everything the compiler may tune for: CPU name, ISA features, the vector
    width to use, cache sizes in bytes and the number of cores. It lives on
    the module as `llmc.target`, so every target-dependent decision is
    visible in the IR:

    ```mlir
    module attributes {llmc.target = #llmc.target<cpu = "icelake-server",
        features = ["avx2", "fma", "f16c", "avx512f"], vector_bits = 512,
        l1d = 49152, l2 = 1310720, l3 = 50331648, cores = 2>} {}
    ```

    Verified: `vector_bits` is 128, 256 or 512; features are known names and
    consistent (every `avx512*` feature needs `avx512f` and vector_bits =
    512; 256-bit vectors need `avx` or `avx2`; `amx_int8`/`amx_bf16` need
    `amx_tile`; `avx_vnni` needs `avx2`); cache sizes are non-zero; cores >= 1.
  }];
  let parameters = (ins
    StringRefParameter<"CPU name">:$cpu,
    "::mlir::ArrayAttr":$features,
    "unsigned":$vector_bits,
    "uint64_t":$l1d,
    "uint64_t":$l2,
    "uint64_t":$l3,
    "unsigned":$cores
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// True if `feature` (e.g. "avx512_vnni") is in the feature list.
    bool hasFeature(::llvm::StringRef feature) const;
    /// The list of feature names accepted by the verifier.
    static ::llvm::ArrayRef<::llvm::StringLiteral> getKnownFeatures();
    /// The #llmc.target attached to the closest enclosing op carrying an
    /// `llmc.target` attribute (normally the module), or null.
    static TargetAttr lookup(::mlir::Operation *op);
  }];
}

//===----------------------------------------------------------------------===//
// #llmc.quant
//===----------------------------------------------------------------------===//

def LLMC_QuantAttr : LLMC_Attr<"Quant", "quant"> {
  let summary = "weight quantization scheme and packed layout";
  let description = [{
    Group-wise integer quantization of a [K, N] weight along K: each group of
    `group_size` consecutive input-channel values of one output column shares
    a scale (of type `scale_type`) and, if not `symmetric`, a zero point.
    `group_size = 0` means one group per output channel (whole K).
    `layout` names the storage layout: "plain" (row-major codes, as produced
    by quantization) or a kernel layout such as "avx512_vnni.n16k4" after
    packing.

    ```mlir
    #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">
    ```
  }];
  let parameters = (ins
    "unsigned":$bits,
    "unsigned":$group_size,
    LLMC_BoolParameter:$symmetric,
    "::mlir::Type":$scale_type,
    StringRefParameter<"packed layout name">:$layout
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Number of K groups for a weight with `k` input channels.
    int64_t getNumGroups(int64_t k) const;
    /// Lower bound of the storage size in bytes of a [k, n] weight: the
    /// packed codes plus one scale (and zero point if asymmetric) per group
    /// and output channel. Packed layouts may add padding.
    int64_t getMinStorageBytes(int64_t k, int64_t n) const;
  }];
}

#endif // LLMC_ATTRS_TD
