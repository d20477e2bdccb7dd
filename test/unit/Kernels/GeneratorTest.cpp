//===- GeneratorTest.cpp - Kernel generation: coverage and speed ----------===//
#include "../../../lib/Kernels/MicroKernel.h"
#include <gtest/gtest.h>
#include <ctime>

using namespace llmc;
using namespace llmc::kernels;

// Every generated kernel must be produced in well under 5 ms (the budget for
// load-time JIT), including the largest (mr = 8, fp32 path, 2-bit weights).
// Measured in thread CPU time: the test machines are shared, and wall time
// includes preemption by other processes.
static double threadCpuMs() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) * 1e-6;
}

TEST(Generator, EveryKernelUnder5ms) {
  double worst = 0;
  int generated = 0;
  for (IsaTier t : {IsaTier::AVX2, IsaTier::AVX512, IsaTier::AVX512_VNNI})
    for (WeightType wt : {WeightType::Int8, WeightType::Int4, WeightType::Int3,
                          WeightType::Int2, WeightType::NL4, WeightType::NL2, WeightType::F32,
                          WeightType::F16, WeightType::BF16})
      for (ActPath act : {ActPath::F32, ActPath::Int8})
        for (bool sym : {true, false})
          for (bool vnni : {false, true}) {
            if ((wt == WeightType::NL4 || wt == WeightType::NL2) && !sym)
              continue; // nl4/nl2 are symmetric only
            MicroKernelDesc d;
            d.tier = t;
            d.format = (wt == WeightType::F32 || wt == WeightType::F16 ||
                        wt == WeightType::BF16)
                           ? WeightFormat::floating(wt)
                           : WeightFormat::quantized(wt, 64, sym, ScaleType::F16);
            d.act = act;
            d.avxVnni = vnni && t == IsaTier::AVX2;
            unsigned mr = jitMaxRows(t, d.format, act, d.avxVnni);
            if (!mr)
              continue;
            d.mr = mr;
            double t0 = threadCpuMs();
            auto fn = generateMicroKernel(d);
            double ms = threadCpuMs() - t0;
            ASSERT_TRUE(bool(fn)) << llvm::toString(fn.takeError());
            worst = std::max(worst, ms);
            ++generated;
            EXPECT_LT(ms, 5.0) << d.str();
          }
  EXPECT_GT(generated, 40);
  RecordProperty("worst_ms", std::to_string(worst));
}

TEST(Generator, UnsupportedIsAnError) {
  MicroKernelDesc d;
  d.tier = IsaTier::Scalar; // the scalar tier runs the C++ kernel
  d.format = WeightFormat::quantized(WeightType::Int4, 32, true);
  d.act = ActPath::Int8;
  auto fn = generateMicroKernel(d);
  EXPECT_FALSE(bool(fn));
  llvm::consumeError(fn.takeError());
  d.tier = IsaTier::AVX2;
  d.format = WeightFormat::floating(WeightType::F16); // int8 path needs codes
  d.mr = 4;
  fn = generateMicroKernel(d);
  EXPECT_FALSE(bool(fn));
  llvm::consumeError(fn.takeError());
  d.format = WeightFormat::quantized(WeightType::Int4, 32, true);
  d.mr = 12; // more rows than registers
  fn = generateMicroKernel(d);
  EXPECT_FALSE(bool(fn));
  llvm::consumeError(fn.takeError());
}

TEST(Generator, RowLimitsPerTier) {
  auto i4 = WeightFormat::quantized(WeightType::Int4, 32, true);
  EXPECT_EQ(jitMaxRows(IsaTier::AVX512_VNNI, i4, ActPath::Int8, false), 8u);
  EXPECT_GE(jitMaxRows(IsaTier::AVX2, i4, ActPath::Int8, false), 4u);
  EXPECT_GE(jitMaxRows(IsaTier::AVX2, i4, ActPath::F32, false), 4u);
  EXPECT_EQ(jitMaxRows(IsaTier::Scalar, i4, ActPath::F32, false), 0u);
}
