//===- LLMCEnums.td - llmc enums ---------------------------*- tablegen -*-===//

#ifndef LLMC_ENUMS_TD
#define LLMC_ENUMS_TD

include "mlir/IR/EnumAttr.td"

def LLMC_RopeConvention : I32EnumAttr<"RopeConvention",
    "how rotary embedding pairs the elements of a head", [
      // Pairs (x[2i], x[2i+1]) -- GPT-J / original RoFormer / llama (Meta).
      I32EnumAttrCase<"interleaved", 0>,
      // Pairs (x[i], x[i + R/2]) -- GPT-NeoX / HF llama "rotate_half".
      I32EnumAttrCase<"half", 1>
    ]> {
  let cppNamespace = "::llmc";
  let genSpecializedAttr = 0;
}

def LLMC_GeluApproximation : I32EnumAttr<"GeluApproximation",
    "approximation used by gelu", [
      I32EnumAttrCase<"none", 0>,
      I32EnumAttrCase<"tanh", 1>
    ]> {
  let cppNamespace = "::llmc";
  let genSpecializedAttr = 0;
}

#endif // LLMC_ENUMS_TD
