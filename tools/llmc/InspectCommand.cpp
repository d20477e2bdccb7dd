//===- InspectCommand.cpp - llmc inspect -------------------------------------===//
//
// Prints a bundle's sections, manifest (model, target, recipe) and the kernels
// this host generates for it.
//
//===----------------------------------------------------------------------===//

#include "Commands.h"

#include "llmc/Runtime/Model.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <set>

using namespace llvm;

cl::SubCommand llmc::cli::inspectCmd(
    "inspect", "Print a bundle's manifest, target, recipe and kernels");

static cl::opt<std::string> bundlePath(cl::Positional, cl::desc("<model.llmc>"),
                                       cl::Required, cl::sub(llmc::cli::inspectCmd));
static cl::opt<bool> verify("verify", cl::desc("Also verify the weights' checksum"),
                            cl::init(false), cl::sub(llmc::cli::inspectCmd));

/// How the table an Embed step reads is stored: dense, or packed (a row
/// dequantized per token) in its own bytes or in a tied lm_head's.
static void printEmbeddingTable(const llmc::codegen::ProgramPlan &plan, int32_t slot) {
  using llmc::codegen::SlotKind;
  const llmc::codegen::WeightSlot &w = plan.weights[size_t(slot)];
  outs() << "embedding: '" << w.name << "' " << w.shape[0] << " x " << w.shape[1] << ", ";
  if (w.kind != SlotKind::PackedTable) {
    outs() << "dense fp32, " << w.bytes << " bytes\n";
    return;
  }
  outs() << "packed " << w.format << ", ";
  for (const llmc::codegen::WeightSlot &o : plan.weights)
    if (o.kind == SlotKind::Packed && o.offset == w.offset) {
      outs() << "stored in the bytes of matmul weight '" << o.name << "'";
      if (w.rowScale != 1.0f)
        outs() << ", rows scaled by " << format("%g", double(w.rowScale));
      outs() << "\n";
      return;
    }
  outs() << w.bytes << " bytes\n";
}

/// The weights section by what reads it; bytes two slots share count once,
/// with the matmul that owns them.
static void printWeightBytes(const llmc::codegen::ProgramPlan &plan) {
  using llmc::codegen::SlotKind;
  std::set<int32_t> tableSlots;
  for (const llmc::codegen::Step &st : plan.steps)
    if (st.kind == llmc::codegen::StepKind::Embed)
      tableSlots.insert(st.weight);
  std::set<int64_t> matmulOffsets;
  uint64_t matmul = 0, tables = 0, other = 0;
  for (const llmc::codegen::WeightSlot &w : plan.weights)
    if (w.kind == SlotKind::Packed && matmulOffsets.insert(w.offset).second)
      matmul += uint64_t(w.bytes);
  for (size_t i = 0; i < plan.weights.size(); ++i) {
    const llmc::codegen::WeightSlot &w = plan.weights[i];
    if (w.kind == SlotKind::Packed || matmulOffsets.count(w.offset))
      continue;
    (tableSlots.count(int32_t(i)) ? tables : other) += uint64_t(w.bytes);
  }
  auto mib = [](uint64_t b) { return format("%.2f MiB", double(b) / 1048576.0); };
  outs() << "weights: " << mib(matmul) << " matmul, " << mib(tables)
         << " embedding tables, " << mib(other) << " other\n";
}

int llmc::cli::runInspect() {
  auto b = llmc::bundle::Bundle::open(bundlePath, verify ? llmc::bundle::Verify::All
                                                         : llmc::bundle::Verify::Metadata);
  if (!b)
    return reportError(b.takeError());
  outs() << "bundle: " << bundlePath << " (format version " << (*b)->formatVersion()
         << ")\nsections:\n";
  for (const llmc::bundle::SectionEntry &s : (*b)->sections())
    outs() << format("  %-10s offset %10llu  size %10llu  align %5u  xxh3 %016llx\n",
                     static_cast<const char *>(s.name), (unsigned long long)s.offset,
                     (unsigned long long)s.size, s.alignment,
                     (unsigned long long)s.checksum);
  auto text = (*b)->sectionText(llmc::bundle::kManifestSection);
  if (!text)
    return reportError(text.takeError());
  auto j = json::parse(*text);
  if (!j)
    return reportError(j.takeError());
  outs() << "manifest:\n" << formatv("{0:2}", *j) << "\n";

  // Kernels: only where this host can run the bundle.
  auto model = llmc::runtime::Model::load(bundlePath);
  if (!model) {
    outs() << "kernels: not available on this host: " << toString(model.takeError())
           << "\n";
    return 0;
  }
  const auto &plan = (*model)->plan();
  outs() << "program: " << plan.steps.size() << " steps, arena "
         << format("%.1f", plan.arenaFloats * 4 / 1048576.0) << " MiB for "
         << plan.maxTokens << " tokens per call, KV cache "
         << format("%.1f", double(plan.config.layers) * plan.config.kvHeads *
                               plan.config.maxContext *
                               (plan.config.headDim + plan.config.valueDim) * 4 /
                               1048576.0)
         << " MiB (fp32, " << plan.config.maxContext << " positions)\n";
  printWeightBytes(plan);
  // Sliding windows and score caps, by size (models may mix windowed and
  // full layers).
  std::map<int64_t, int> windows;
  std::map<float, int> caps;
  std::map<std::string, int> moes; // an MoE layer's description -> layers
  int attentions = 0;
  for (const auto &st : plan.steps) {
    if (st.kind == llmc::codegen::StepKind::Attention) {
      ++attentions;
      if (st.window > 0)
        ++windows[st.window];
      if (st.softcap > 0)
        ++caps[st.softcap];
    }
    if (st.kind == llmc::codegen::StepKind::Embed)
      printEmbeddingTable(plan, st.weight);
    if (st.kind == llmc::codegen::StepKind::Softcap)
      outs() << "softcap: " << st.width << " values soft-capped at "
             << format("%g", double(st.softcap)) << "\n";
    if (st.kind == llmc::codegen::StepKind::MoE) {
      std::string d;
      raw_string_ostream os(d);
      os << st.expertCount() << (st.gated ? " gated" : "") << " experts, top " << st.topK
         << (st.normalize ? " (weights renormalized)" : "") << ", "
         << llmc::codegen::expertActivationName(st.expertAct);
      if (st.expertAct == llmc::codegen::ExpertActivation::SwiGLU) {
        os << (st.interleaved ? " interleaved" : " in halves") << " (alpha "
           << format("%g", double(st.alpha)) << ", beta " << format("%g", double(st.beta));
        if (st.limit > 0)
          os << ", limit " << format("%g", double(st.limit));
        os << ")";
      }
      os << ", hidden " << st.width << ", expert width " << st.inner;
      ++moes[d];
    }
    if (st.kind == llmc::codegen::StepKind::RopeTables && st.longWeight >= 0)
      outs() << "rope: LongRoPE, the long frequencies (attention factor "
             << format("%g", double(st.longScale)) << ") once a sequence passes "
             << st.longAfter << " tokens\n";
  }
  for (auto [window, count] : windows)
    outs() << "attention: a sliding window of " << window << " keys in " << count
           << " of " << attentions << " layers\n";
  for (const auto &[moe, count] : moes)
    outs() << "moe: " << moe << ", in " << count << " layers\n";
  for (auto [cap, count] : caps)
    outs() << "attention: scores soft-capped at " << format("%g", double(cap)) << " in "
           << count << " of " << attentions << " layers\n";
  outs() << "program: "
         << ((*model)->usesProgram()
                 ? formatv("generated code (section 'program'), linked with ORC in "
                           "{0:F1} ms",
                           (*model)->linkMs())
                       .str()
                 : std::string("executed by the runtime's plan driver"))
         << "\n";
  outs() << "kernels (host tier " << isaTierName((*model)->kernelTier()) << "):\n";
  for (const std::string &k : (*model)->kernelDescriptions())
    outs() << "  " << k << "\n";
  return 0;
}
