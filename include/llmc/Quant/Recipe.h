//===- Recipe.h - The --quant grammar and per-tensor quantization recipes -*- C++ -*-===//
//
// A QuantSpec says how one weight tensor is stored and which algorithm
// produces it; a QuantRecipe maps tensor names to specs. Both come from text:
//
//   --quant SPEC            SPEC  := TYPE (':' OPTION)*
//                           TYPE  := int8 | int4 | int3 | int2 | fp16 | bf16 | fp32
//                           OPTION:= gN (group of N along K: 16 (not int3) or a
//                                       multiple of 32)
//                                  | pc (one group per output channel)
//                                  | sym | asym | f32 | f16 | bf16 (scale dtype)
//                                  | mse (clipping search) | rtn | gptq | awq | quip
//                                  | actorder (GPTQ/QuIP column order)
//                                  | refit (least-squares group scales for the
//                                           rounded codes: gptq, quip)
//                                  | bias (bias correction: rtn, gptq, quip)
//                                  | quarot (rotate the residual stream, folded
//                                            into the weights: QuaRot)
//   --quant-recipe FILE     JSON: {"default": SPEC, "rules": [{"match": GLOB,
//                                  "quant": SPEC}, ...]}, first match wins.
//
// docs/QUANTIZATION.md is the user-facing description (defaults, examples).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_QUANT_RECIPE_H
#define LLMC_QUANT_RECIPE_H

#include "llmc/Kernels/WeightFormat.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include <optional>
#include <string>
#include <vector>

namespace llmc {
namespace quant {

enum class QuantMethod : uint8_t {
  RTN,        ///< round to nearest (optionally with clipping search)
  GPTQ,       ///< OPTQ/GPTQ with calibration Hessian (GPTQ.h)
  AWQ,        ///< activation-aware scaling (AWQ.h)
  Incoherent, ///< randomized Hadamard + LDLQ, QuIP/QuIP# style (Hadamard.h)
};
llvm::StringRef quantMethodName(QuantMethod m);
/// The inverse of quantMethodName ("rtn", "gptq", "awq", "quip").
std::optional<QuantMethod> parseQuantMethodName(llvm::StringRef name);
/// A weight type as SPEC's TYPE spells it: fp32, fp16, bf16 for float
/// weights, weightTypeName's names ("int4", "nl4") for quantized ones.
llvm::StringRef specTypeName(kernels::WeightType t);

struct QuantSpec {
  /// F32 means "keep as is" (not quantized).
  kernels::WeightFormat format;
  QuantMethod method = QuantMethod::RTN;
  bool mseClip = false;
  bool actOrder = false;
  /// Least-squares group scales for the rounded codes, alternated with
  /// rounding (ScaleRefit.h; gptq and quip).
  bool refitScales = false;
  /// Bias correction: round for the covariance of the calibration inputs
  /// (not their second moment) and add the mean output error back as a
  /// bias, b = (W - W_hat) mu (rtn, gptq, quip).
  bool biasCorrection = false;
  /// QuaRot: an orthogonal rotation of the residual stream folded into the
  /// weights, and an online rotation of the other quantized matmul inputs.
  /// A whole-model option (never in a per-tensor rule); the only option float
  /// types take.
  bool quarot = false;

  bool isQuantized() const { return format.isQuantized(); }
  /// True when the method needs calibration statistics.
  bool needsCalibration() const {
    return method != QuantMethod::RTN || biasCorrection;
  }
  /// Canonical spelling, e.g. "int4:g32:sym:f16:gptq:actorder"; parses back
  /// to an equal spec.
  std::string str() const;
  /// The combinations parseQuantSpec accepts: the format is valid, actorder
  /// and refit go with gptq or quip, quarot with neither quip nor awq.
  llvm::Error validate() const;
  bool operator==(const QuantSpec &o) const {
    return format == o.format && method == o.method && mseClip == o.mseClip &&
           actOrder == o.actOrder && refitScales == o.refitScales &&
           biasCorrection == o.biasCorrection &&
           quarot == o.quarot;
  }
  bool operator!=(const QuantSpec &o) const { return !(*this == o); }
};

/// Parses SPEC (see above). Errors name the offending token.
llvm::Expected<QuantSpec> parseQuantSpec(llvm::StringRef text);

/// Whole-name glob match (llvm::GlobPattern: * ? [..] {a,b}); a pattern without
/// wildcards also matches whole dot-separated parts, so "lm_head" matches
/// "lm_head.weight" and "model.lm_head.weight" but not "lm_head2.weight".
/// An invalid glob matches nothing (addRule rejects it up front).
bool matchTensorName(llvm::StringRef pattern, llvm::StringRef name);

/// A rule keeps its pattern as text and compiles the glob per match: an
/// llvm::GlobPattern refers into the string it was created from (its literal
/// prefix is a StringRef), so a stored one dangles once that string moves.
struct QuantRule {
  std::string pattern;
  QuantSpec spec;
  /// The matched matmuls' activation mode, in --activations' spelling
  /// ("int8", "fp32", "bf16", "static[:minmax|:pN]"); empty: the bundle's.
  /// Checked by the compiler, which owns that grammar.
  std::string activations;
};

class QuantRecipe {
public:
  /// Used when no rule matches; fp32 ("keep") unless set.
  QuantSpec defaultSpec;
  std::vector<QuantRule> rules;
  /// The embedding table's format (--quant-embedding), when the file sets
  /// one; rules and defaultSpec apply to matmul weights only.
  std::optional<QuantSpec> embedding;

  /// The spec of the first rule matching `tensorName`, else defaultSpec.
  const QuantSpec &lookup(llvm::StringRef tensorName) const;
  /// Index in `rules` of the first rule matching `tensorName`; -1: none.
  int ruleIndexFor(llvm::StringRef tensorName) const;
  /// Adds a rule at the end (lowest priority).
  llvm::Error addRule(llvm::StringRef pattern, const QuantSpec &spec,
                      llvm::StringRef activations = "");

  /// A recipe with no rules from a --quant SPEC.
  static llvm::Expected<QuantRecipe> fromQuantString(llvm::StringRef spec);
  /// Parses the JSON form. `fallback` is the default when the file has no
  /// "default" (e.g. the --quant given beside --quant-recipe). `source` names
  /// the text in errors.
  static llvm::Expected<QuantRecipe>
  parseJSON(llvm::StringRef text, const QuantSpec &fallback = {},
            llvm::StringRef source = "recipe");
  static llvm::Expected<QuantRecipe> loadFile(llvm::StringRef path,
                                              const QuantSpec &fallback = {});
  /// The JSON form (what parseJSON reads), e.g. for a bundle manifest.
  llvm::json::Value toJSON() const;
};

} // namespace quant
} // namespace llmc

#endif
