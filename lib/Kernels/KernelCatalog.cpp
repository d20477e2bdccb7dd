//===- KernelCatalog.cpp - Every kernel shape the generator supports ------===//
//
// The set of descriptors the load-time JIT may have to produce, each at its
// largest row count (the longest code): the generator's coverage test walks
// it, and llmc-bench-kernels --gen-time times it against the 5 ms budget.
//
//===----------------------------------------------------------------------===//
#include "MicroKernel.h"

namespace llmc {
namespace kernels {

std::vector<MicroKernelDesc> largestSupportedKernels(unsigned groupSize) {
  static constexpr WeightType kTypes[] = {
      WeightType::Int8, WeightType::Int4, WeightType::Int3,
      WeightType::Int2, WeightType::NL4,  WeightType::NL2,
      WeightType::F32,  WeightType::F16,  WeightType::BF16};
  std::vector<MicroKernelDesc> out;
  for (IsaTier tier : {IsaTier::AVX2, IsaTier::AVX512, IsaTier::AVX512_VNNI,
                       IsaTier::AMX})
    for (WeightType wt : kTypes) {
      const bool floating = wt == WeightType::F32 || wt == WeightType::F16 ||
                            wt == WeightType::BF16;
      for (ActPath act : {ActPath::F32, ActPath::Int8, ActPath::BF16})
        for (bool sym : {true, false}) {
          if (floating && !sym)
            continue; // symmetry means nothing without codes
          if ((wt == WeightType::NL4 || wt == WeightType::NL2) && !sym)
            continue; // nl4/nl2 are symmetric only
          // The variants of one tier: AVX2 with AVX-VNNI's vpdpbusd, AMX
          // with its tiles modelled in software (code the JIT may also have
          // to produce, and much longer).
          for (bool variant : {false, true}) {
            if (variant && tier != IsaTier::AVX2 && tier != IsaTier::AMX)
              continue;
            for (unsigned panels : {1u, 2u}) {
              MicroKernelDesc d;
              d.tier = tier;
              d.format = floating ? WeightFormat::floating(wt)
                                  : WeightFormat::quantized(wt, groupSize, sym,
                                                            ScaleType::F16);
              d.act = act;
              d.avxVnni = variant && tier == IsaTier::AVX2;
              d.emulateTiles = variant && tier == IsaTier::AMX;
              d.panels = panels;
              d.mr = jitMaxRows(tier, d.format, act, d.avxVnni, panels);
              if (d.mr)
                out.push_back(d);
            }
          }
        }
    }
  return out;
}

} // namespace kernels
} // namespace llmc
