//===- TinyLlama.h - A one-layer Llama in fused llmc IR for tests -*- C++ -*-===//
//
// The fused IR llmc-fuse-transformer emits for a one-layer Llama (merged QKV
// and gate/up, interleaved RoPE, GQA attention, SwiGLU, tied lm_head), with
// deterministic pseudo-random weights written to a file it references.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_TEST_UNIT_CODEGEN_TINYLLAMA_H
#define LLMC_TEST_UNIT_CODEGEN_TINYLLAMA_H

#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace llmc::test {

struct TinyLlamaShape {
  int V = 40, D = 32, H = 4, KV = 2, HD = 8, F = 40;
  /// Norm weights are 1 + normSpread * u, u uniform in [-0.5, 0.5).
  float normSpread = 0.2f;
};

/// Writes weights to `bin` and returns the fused IR referencing them.
inline std::string makeTinyLlama(const std::string &bin,
                                 const TinyLlamaShape &tiny = {}) {
  const int V = tiny.V, D = tiny.D, H = tiny.H, KV = tiny.KV, HD = tiny.HD,
            F = tiny.F;
  std::ofstream out(bin, std::ios::binary);
  int64_t offset = 0;
  uint32_t state = 12345;
  std::string body;
  auto weight = [&](const std::string &name, std::vector<int64_t> shape, bool norm) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    for (int64_t i = 0; i < n; ++i) {
      state = state * 1664525u + 1013904223u;
      float u = float(state >> 8) / float(1 << 24) - 0.5f;
      float v = norm ? 1.0f + tiny.normSpread * u : u * 2.0f / std::sqrt(float(shape[0]));
      out.write(reinterpret_cast<const char *>(&v), 4);
    }
    std::string t;
    for (int64_t d : shape)
      t += std::to_string(d) + "x";
    body += llvm::formatv("    %{0} = llmc.weight \"{0}\" from \"{1}\" at {2} : "
                          "tensor<{3}f32>\n",
                          name, bin, offset, t)
                .str();
    offset += n * 4;
  };
  auto act = [](std::string dims) { return "tensor<" + dims + "xf32>"; };
  std::string x3 = act(llvm::formatv("?x?x{0}", D).str());
  std::string kvt = act(llvm::formatv("?x{0}x?x{1}", KV, HD).str());
  std::string qt = act(llvm::formatv("?x{0}x?x{1}", H, HD).str());
  std::string cs = act(llvm::formatv("?x?x{0}", HD / 2).str());
  weight("emb", {V, D}, false);
  weight("an", {D}, true);
  weight("wq", {D, H * HD}, false);
  weight("wk", {D, KV * HD}, false);
  weight("wv", {D, KV * HD}, false);
  weight("wo", {H * HD, D}, false);
  weight("fn", {D}, true);
  weight("w1", {D, F}, false);
  weight("w3", {D, F}, false);
  weight("w2", {F, D}, false);
  weight("nw", {D}, true);
  std::string t = R"(
    %x0 = llmc.gather %emb, %ids : (tensor<$Vx$Dxf32>, tensor<?x?xi64>) -> $X3
    %cos, %sin = llmc.rope_cos_sin interleaved %pos {dim = $HD : i64, theta = 1.000000e+04 : f64} : (tensor<?x?xi64>) -> ($CS, $CS)
    %h = llmc.rms_norm %x0, %an {epsilon = 9.99999974E-6 : f32} : ($X3, tensor<$Dxf32>) -> $X3
    %wqkv = llmc.concat %wq, %wk, %wv {axis = 1 : i64} : (tensor<$Dx$QDxf32>, tensor<$Dx$KDxf32>, tensor<$Dx$KDxf32>) -> tensor<$Dx$Nxf32>
    %qkv = llmc.matmul %h, %wqkv : ($X3, tensor<$Dx$Nxf32>) -> tensor<?x?x$Nxf32>
    %s:3 = llmc.split %qkv {axis = 2 : i64, sizes = array<i64: $QD, $KD, $KD>} : (tensor<?x?x$Nxf32>) -> (tensor<?x?x$QDxf32>, tensor<?x?x$KDxf32>, tensor<?x?x$KDxf32>)
    %q4 = llmc.reshape %s#0 {shape = array<i64: 0, 0, $H, $HD>} : (tensor<?x?x$QDxf32>) -> tensor<?x?x$Hx$HDxf32>
    %qt = llmc.transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x$Hx$HDxf32>) -> $QT
    %k4 = llmc.reshape %s#1 {shape = array<i64: 0, 0, $KV, $HD>} : (tensor<?x?x$KDxf32>) -> tensor<?x?x$KVx$HDxf32>
    %kt = llmc.transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x$KVx$HDxf32>) -> $KT
    %v4 = llmc.reshape %s#2 {shape = array<i64: 0, 0, $KV, $HD>} : (tensor<?x?x$KDxf32>) -> tensor<?x?x$KVx$HDxf32>
    %vt = llmc.transpose %v4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x$KVx$HDxf32>) -> $KT
    %qr = llmc.rope interleaved %qt, %cos, %sin : ($QT, $CS, $CS) -> $QT
    %kr = llmc.rope interleaved %kt, %cos, %sin : ($KT, $CS, $CS) -> $KT
    %o, %pk, %pv = llmc.attention %qr, %kr, %vt past(%pk0, %pv0) {causal = true, num_heads = $H : i64, num_kv_heads = $KV : i64, scale = 0.353553385 : f32} : ($QT, $KT, $KT, $KT, $KT) -> ($QT, $KT, $KT)
    %ot = llmc.transpose %o {perm = array<i64: 0, 2, 1, 3>} : ($QT) -> tensor<?x?x$Hx$HDxf32>
    %o3 = llmc.reshape %ot {shape = array<i64: 0, 0, $QD>} : (tensor<?x?x$Hx$HDxf32>) -> tensor<?x?x$QDxf32>
    %a = llmc.matmul %o3, %wo : (tensor<?x?x$QDxf32>, tensor<$QDx$Dxf32>) -> $X3
    %x1 = llmc.add %x0, %a : ($X3, $X3) -> $X3
    %h2 = llmc.rms_norm %x1, %fn {epsilon = 9.99999974E-6 : f32} : ($X3, tensor<$Dxf32>) -> $X3
    %w13 = llmc.concat %w1, %w3 {axis = 1 : i64} : (tensor<$Dx$Fxf32>, tensor<$Dx$Fxf32>) -> tensor<$Dx$F2xf32>
    %gu = llmc.matmul %h2, %w13 : ($X3, tensor<$Dx$F2xf32>) -> tensor<?x?x$F2xf32>
    %sw = llmc.swiglu %gu : (tensor<?x?x$F2xf32>) -> tensor<?x?x$Fxf32>
    %dn = llmc.matmul %sw, %w2 : (tensor<?x?x$Fxf32>, tensor<$Fx$Dxf32>) -> $X3
    %x2 = llmc.add %x1, %dn : ($X3, $X3) -> $X3
    %hf = llmc.rms_norm %x2, %nw {epsilon = 9.99999974E-6 : f32} : ($X3, tensor<$Dxf32>) -> $X3
    %wout = llmc.transpose %emb {perm = array<i64: 1, 0>} : (tensor<$Vx$Dxf32>) -> tensor<$Dx$Vxf32>
    %logits = llmc.matmul %hf, %wout : ($X3, tensor<$Dx$Vxf32>) -> tensor<?x?x$Vxf32>
    return %logits, %pk, %pv : tensor<?x?x$Vxf32>, $KT, $KT
  }
}
)";
  std::string head = "module {\n  func.func @main(%ids: tensor<?x?xi64>, %mask: tensor<?x?xi64>, "
                     "%pos: tensor<?x?xi64>, %pk0: $KT, %pv0: $KT) -> (tensor<?x?x$Vxf32>, $KT, $KT) {\n";
  std::string text = head + body + t;
  // Longest names first so $KD does not eat $K..., $X3 etc.
  const std::pair<std::string, std::string> subst[] = {
      {"$X3", "tensor<?x?x$Dxf32>"},
      {"$QT", "tensor<?x$Hx?x$HDxf32>"},
      {"$KT", "tensor<?x$KVx?x$HDxf32>"},
      {"$CS", "tensor<?x?x$HHxf32>"},
      {"$QD", std::to_string(H * HD)},
      {"$KD", std::to_string(KV * HD)},
      {"$HH", std::to_string(HD / 2)},
      {"$HD", std::to_string(HD)},
      {"$KV", std::to_string(KV)},
      {"$F2", std::to_string(2 * F)},
      {"$N", std::to_string((H + 2 * KV) * HD)},
      {"$V", std::to_string(V)},
      {"$D", std::to_string(D)},
      {"$H", std::to_string(H)},
      {"$F", std::to_string(F)}};
  for (const auto &[from, to] : subst)
    for (size_t p; (p = text.find(from)) != std::string::npos;)
      text.replace(p, from.size(), to);
  return text;
}

} // namespace llmc::test

#endif // LLMC_TEST_UNIT_CODEGEN_TINYLLAMA_H
