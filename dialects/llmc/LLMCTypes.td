//===- LLMCTypes.td - llmc types ---------------------------*- tablegen -*-===//

#ifndef LLMC_TYPES_TD
#define LLMC_TYPES_TD

include "LLMCAttrs.td"

class LLMC_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<LLMC_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def LLMC_QWeightType : LLMC_Type<"QWeight", "qweight"> {
  let summary = "packed quantized weight of logical shape [K, N]";
  let description = [{
    Opaque storage of a quantized matrix with K input channels and N output
    channels, described by a `#llmc.quant`. Produced by `llmc.weight`,
    consumed by `llmc.qmatmul`. Its bytes are never materialized in the IR.

    ```mlir
    !llmc.qweight<4096x11008, #llmc.quant<bits = 4, group_size = 32, symmetric = true, scale_type = f16, layout = "plain">>
    ```
  }];
  let parameters = (ins "int64_t":$k, "int64_t":$n, LLMC_QuantAttr:$quant);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
}

#endif // LLMC_TYPES_TD
