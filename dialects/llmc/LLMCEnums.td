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

def LLMC_MoEActivation : I32EnumAttr<"MoEActivation",
    "the activation between an expert's two projections", [
      // act(f) elementwise on fc1's output f (width I); gelu_tanh is
      // 0.5 f (1 + tanh(sqrt(2/pi) (f + 0.044715 f^3))), the form ONNX
      // Runtime's MoE computes for its "gelu".
      I32EnumAttrCase<"identity", 0>,
      I32EnumAttrCase<"relu", 1>,
      I32EnumAttrCase<"gelu_tanh", 2>,
      I32EnumAttrCase<"silu", 3>,
      // fc1's output is 2I wide, gate and linear halves: g * sigmoid(alpha g)
      // * (l + beta), both clamped by the limit (ONNX Runtime's MoE swiglu).
      I32EnumAttrCase<"swiglu", 4>
    ]> {
  let cppNamespace = "::llmc";
  let genSpecializedAttr = 0;
}

#endif // LLMC_ENUMS_TD
