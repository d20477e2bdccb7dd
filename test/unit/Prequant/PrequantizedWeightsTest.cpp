//===- PrequantizedWeightsTest.cpp - pre-quantized ONNX vs ONNX Runtime --===//
//
// For each committed fixture (test/fixtures/onnx/prequant: model, input x,
// ONNX Runtime 1.30's output y): import it, check it became one llmc.qmatmul
// on an !llmc.qweight, read the weight into kernels::QuantizedWeights
// (lib/CodeGen/PrequantizedWeights), pack it for the host and run the scalar
// reference and the host's generated kernels, and compare with ORT.
//
// Tolerances:
//  - MatMulNBits, DequantizeLinear: ORT dequantizes to fp32 and multiplies
//    (accuracy_level 0), so llmc's fp32-activation path must agree to fp32
//    rounding: |y - y_ort| <= 1e-5 * (1 + sum_k |x_k w_nk|).
//  - MatMulInteger: ORT quantizes x to uint8 per tensor (DynamicQuantizeLinear).
//    With x replaced by that quantize-dequantize the fp32 path must agree to
//    fp32 rounding (same bound); with x itself the difference is the
//    activation quantization error, <= sum_k |w_nk| * x_scale / 2.
//  - llmc's int8-activation path (per-row/group dynamic quantization):
//    within kernels::int8PathErrorBound of its fp32 reference.
//
//===----------------------------------------------------------------------===//

#include "llmc/CodeGen/PrequantizedWeights.h"
#include "llmc/Frontend/ONNXImporter.h"
#include "llmc/InitAll.h"
#include "llmc/Kernels/Matmul.h"
#include "llmc/Kernels/Packing.h"
#include "llmc/Kernels/Reference.h"
#include "llmc/Kernels/ThreadPool.h"
#include "llmc/LLMCOps.h"
#include "llmc/LLMCTypes.h"
#include "llmc/Target/Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

using namespace llmc;

namespace {

std::string fixture(const std::string &name, const char *ext) {
  return std::string(LLMC_PREQUANT_FIXTURES) + "/" + name + ext;
}

std::vector<float> readFloats(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), {});
  std::vector<float> v(bytes.size() / 4);
  std::memcpy(v.data(), bytes.data(), v.size() * 4);
  return v;
}

struct Imported {
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  llmc::QMatMulOp qmm;
  llmc::WeightOp weight;
};

std::unique_ptr<Imported> import(const std::string &path) {
  auto im = std::make_unique<Imported>();
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  im->ctx.appendDialectRegistry(registry);
  im->ctx.loadAllAvailableDialects();
  auto m = importONNX(im->ctx, path);
  if (!m) {
    ADD_FAILURE() << llvm::toString(m.takeError());
    return nullptr;
  }
  im->module = std::move(*m);
  int count = 0;
  im->module->walk([&](llmc::QMatMulOp op) {
    im->qmm = op;
    ++count;
  });
  if (count != 1) {
    ADD_FAILURE() << path << ": expected one llmc.qmatmul, found " << count;
    return nullptr;
  }
  im->weight = im->qmm.getW().getDefiningOp<llmc::WeightOp>();
  return im;
}

llvm::Expected<llvm::StringRef> readFile(llvm::StringRef file, uint64_t off,
                                         uint64_t len) {
  static std::map<std::string, std::unique_ptr<llvm::MemoryBuffer>> files;
  auto &buf = files[file.str()];
  if (!buf) {
    auto b = llvm::MemoryBuffer::getFile(file, false, false);
    if (!b)
      return llvm::createStringError(b.getError(), "cannot read %s", file.str().c_str());
    buf = std::move(*b);
  }
  if (off + len > buf->getBufferSize())
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "out of range");
  return buf->getBuffer().substr(off, len);
}

/// ONNX DynamicQuantizeLinear followed by dequantization (what ORT's
/// MatMulInteger path sees of x); returns the scale.
float dynamicQuantDequant(std::vector<float> &x) {
  float lo = 0, hi = 0;
  for (float v : x)
    lo = std::min(lo, v), hi = std::max(hi, v);
  float scale = (hi - lo) / 255.0f;
  float zp = std::nearbyint(std::clamp(-lo / scale, 0.0f, 255.0f));
  for (float &v : x) {
    float q = std::clamp(std::nearbyint(v / scale) + zp, 0.0f, 255.0f);
    v = (q - zp) * scale;
  }
  return scale;
}

struct Case {
  const char *name;
  bool dynamicActivations; // MatMulInteger: ORT quantizes x per tensor
  const char *kernelFormat; // after conversion for the kernels
};

class PrequantVsORT : public ::testing::TestWithParam<Case> {};

TEST_P(PrequantVsORT, MatchesOnnxRuntime) {
  const Case &c = GetParam();
  auto im = import(fixture(c.name, ".onnx"));
  ASSERT_TRUE(im);
  std::vector<float> x = readFloats(fixture(c.name, ".x.bin"));
  std::vector<float> ort = readFloats(fixture(c.name, ".ort.bin"));
  auto qt = llvm::cast<llmc::QWeightType>(im->weight.getType());
  const int64_t K = qt.getK(), N = qt.getN(), M = int64_t(x.size()) / K;
  ASSERT_EQ(int64_t(ort.size()), M * N);

  auto q = codegen::readPrequantizedWeight(im->weight, readFile);
  ASSERT_TRUE(bool(q)) << llvm::toString(q.takeError());
  ASSERT_FALSE(codegen::toKernelFormat(*q, im->weight.getName()));
  EXPECT_EQ(q->format.str(), c.kernelFormat);
  ASSERT_FALSE(q->format.validate());

  std::vector<float> bias(size_t(N), 0.0f);
  if (mlir::Value b = im->qmm.getBias()) {
    auto bw = b.getDefiningOp<llmc::WeightOp>();
    ASSERT_TRUE(bw);
    auto bytes = readFile(bw.getFile(), uint64_t(bw.getOffsetAttr().getInt()), N * 4);
    ASSERT_TRUE(bool(bytes));
    std::memcpy(bias.data(), bytes->data(), N * 4);
  }
  auto addBias = [&](std::vector<float> &y) {
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n)
        y[m * N + n] += bias[n];
  };
  // sum_k |x_k w_nk| and sum_k |w_nk| for the bounds.
  std::vector<double> absDot(static_cast<size_t>(M * N)), absW(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k) {
      double w = std::fabs(q->weight(n, k));
      absW[n] += w;
      for (int64_t m = 0; m < M; ++m)
        absDot[m * N + n] += w * std::fabs(x[m * K + k]);
    }

  // Scalar reference, fp32 activations.
  std::vector<float> ref(size_t(M * N));
  kernels::referenceMatmulF32(x.data(), M, *q, ref.data());
  addBias(ref);
  double maxDiff = 0, maxExact = 0;
  float xScale = 0;
  std::vector<float> exact = ref;
  if (c.dynamicActivations) {
    std::vector<float> xq = x;
    xScale = dynamicQuantDequant(xq);
    kernels::referenceMatmulF32(xq.data(), M, *q, exact.data());
    addBias(exact);
  }
  for (int64_t i = 0; i < M * N; ++i) {
    int64_t n = i % N;
    double tight = 1e-5 * (1 + absDot[i]);
    EXPECT_LE(std::fabs(exact[i] - ort[i]), tight) << c.name << " element " << i;
    maxExact = std::max(maxExact, double(std::fabs(exact[i] - ort[i])));
    double bound = c.dynamicActivations ? absW[n] * xScale / 2 + tight : tight;
    EXPECT_LE(std::fabs(ref[i] - ort[i]), bound) << c.name << " element " << i;
    maxDiff = std::max(maxDiff, double(std::fabs(ref[i] - ort[i])));
  }

  // The host's kernels on the packed weights, both activation paths.
  IsaTier tier = std::min(hostTarget().maxTier(), IsaTier::AVX512_VNNI);
  auto packed = codegen::packPrequantizedWeight(im->weight, "", tier);
  ASSERT_TRUE(bool(packed)) << llvm::toString(packed.takeError());
  ThreadPool pool(1);
  std::vector<double> bound8 = kernels::int8PathErrorBound(x.data(), M, *q);
  double maxJit32 = 0, maxJit8 = 0;
  for (kernels::ActPath act : {kernels::ActPath::F32, kernels::ActPath::Int8}) {
    kernels::MatmulDesc d = kernels::MatmulDesc::forHost(N, K, q->format, M);
    d.tier = tier;
    d.act = act;
    auto mm = kernels::Matmul::create(d);
    ASSERT_TRUE(bool(mm)) << llvm::toString(mm.takeError());
    std::vector<float> y(size_t(M * N));
    ASSERT_FALSE(mm->run(x.data(), M, *packed, y.data(), pool));
    addBias(y);
    for (int64_t i = 0; i < M * N; ++i) {
      double tight = 1e-5 * (1 + absDot[i]);
      double diffRef = std::fabs(y[i] - ref[i]);
      if (act == kernels::ActPath::F32) {
        EXPECT_LE(diffRef, tight) << c.name << " fp32 kernel, element " << i;
        maxJit32 = std::max(maxJit32, double(std::fabs(y[i] - ort[i])));
      } else {
        EXPECT_LE(diffRef, bound8[i] + tight) << c.name << " int8 kernel, element " << i;
        maxJit8 = std::max(maxJit8, double(std::fabs(y[i] - ort[i])));
      }
    }
  }
  double maxOrt = 0;
  for (float v : ort)
    maxOrt = std::max(maxOrt, double(std::fabs(v)));
  std::printf("[ measured ] %-20s %-18s max|y_ort| %.3g  |ref-ort| %.3g  "
              "|ref(ort's x)-ort| %.3g  |jit fp32-ort| %.3g  |jit int8-ort| %.3g\n",
              c.name, c.kernelFormat, maxOrt, maxDiff, maxExact, maxJit32, maxJit8);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, PrequantVsORT,
    ::testing::Values(Case{"nbits4_zp", false, "int4_g32_asym_f32"},
                      Case{"nbits4_sym_bias", false, "int4_g64_sym_f32"},
                      Case{"nbits8_zp", false, "int8_g128_asym_f32"},
                      Case{"nbits4_b16", false, "int4_g32_asym_f32"},
                      Case{"nbits4_b16_mixed", false, "int4_g16_asym_f32"},
                      Case{"dq_int4_b32", false, "int4_g32_asym_f32"},
                      Case{"dq_uint4_b64_nozp", false, "int4_g64_asym_f32"},
                      Case{"dq_int8_percol", false, "int8_pc_asym_f32"},
                      Case{"mmi_int8_tensor", true, "int8_pc_sym_f32"},
                      Case{"mmi_uint8_percol", true, "int8_pc_asym_f32"}),
    [](const ::testing::TestParamInfo<Case> &i) { return std::string(i.param.name); });

TEST(Prequant, PlainLayoutIsRefused) {
  auto im = import(fixture("nbits4_zp", ".onnx"));
  ASSERT_TRUE(im);
  im->weight->removeAttr("llmc.prequant");
  auto q = codegen::readPrequantizedWeight(im->weight, readFile);
  ASSERT_FALSE(bool(q));
  EXPECT_NE(llvm::toString(q.takeError()).find("not an ONNX pre-quantized weight"),
            std::string::npos);
}

} // namespace
