//===- EmbeddingTables.cpp - How embedding tables are stored --------------===//
#include "EmbeddingTables.h"

#include "llmc/CodeGen/PrequantizedWeights.h"
#include "llmc/LLMCOps.h"
#include "llmc/LLMCTypes.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <optional>
#include <utility>

using namespace llvm;
using namespace mlir;

namespace llmc::codegen {

namespace {

Value throughCasts(Value v) {
  while (auto c = v.getDefiningOp<llmc::CastOp>())
    v = c.getX();
  return v;
}

/// x for Transpose{1, 0}(x), else null.
Value transposedOf(Value v) {
  auto t = v.getDefiningOp<llmc::TransposeOp>();
  if (!t || t.getPerm().size() != 2 || t.getPerm()[0] != 1 || t.getPerm()[1] != 0)
    return nullptr;
  return throughCasts(t.getX());
}

/// The same initializer: one value, or two llmc.weight ops naming the same
/// bytes with the same type.
bool sameWeight(Value a, Value b) {
  if (a == b)
    return true;
  auto wa = a.getDefiningOp<llmc::WeightOp>(), wb = b.getDefiningOp<llmc::WeightOp>();
  return wa && wb && wa.getName() == wb.getName() && wa.getFile() == wb.getFile() &&
         wa.getOffset() == wb.getOffset() && wa.getLength() == wb.getLength() &&
         wa.getType() == wb.getType();
}

/// The !llmc.qweight a table root dequantizes (Transpose{1, 0} of
/// llmc.dequantize: GatherBlockQuantized's import), or null.
Value prequantizedTable(Value table) {
  Value x = transposedOf(throughCasts(table));
  auto d = x ? x.getDefiningOp<llmc::DequantizeOp>() : nullptr;
  return d && isPrequantizedWeight(d.getW()) ? d.getW() : nullptr;
}

/// x and s for a table root x * s with s a scalar float constant (Gemma's
/// scaled table, GraphCanonicalize's FoldScaleIntoGatherTable).
std::optional<std::pair<Value, float>> scaledTable(Value table) {
  auto mul = throughCasts(table).getDefiningOp<llmc::MulOp>();
  if (!mul)
    return std::nullopt;
  for (auto [x, s] : {std::pair{mul.getLhs(), mul.getRhs()}, {mul.getRhs(), mul.getLhs()}}) {
    auto c = s.getDefiningOp<llmc::ConstantOp>();
    auto attr = c ? dyn_cast<DenseFPElementsAttr>(c.getValue()) : nullptr;
    if (attr && attr.getNumElements() == 1)
      return std::pair{x, float((*attr.value_begin<APFloat>()).convertToDouble())};
  }
  return std::nullopt;
}

} // namespace

Error validateEmbeddingSpec(const quant::QuantSpec &spec) {
  if (Error e = spec.validate())
    return e;
  if (spec.method != quant::QuantMethod::RTN || spec.actOrder || spec.refitScales ||
      spec.biasCorrection || spec.quarot)
    return createStringError(inconvertibleErrorCode(),
                             "'%s': an embedding table is rounded "
                             "to nearest (optionally with 'mse'); it has no inputs "
                             "for gptq, awq, quip, actorder, refit or bias to use, "
                             "and quarot is a whole-model option of --quant",
                             spec.str().c_str());
  return Error::success();
}

bool holdsTableRows(Value packed, Value table) {
  packed = throughCasts(packed);
  if (Value q = prequantizedTable(table))
    return isPrequantizedWeight(packed) && sameWeight(packed, q);
  Value x = transposedOf(packed);
  return x && !isPrequantizedWeight(x) && sameWeight(x, throughCasts(table));
}

std::vector<EmbeddingTable> choosePackedTables(PlanResult &planned,
                                               const quant::QuantSpec &spec,
                                               int32_t rotatedTable) {
  ProgramPlan &plan = planned.plan;
  std::vector<EmbeddingTable> tables;
  for (const Step &s : plan.steps) {
    if (s.kind != StepKind::Embed || s.weight < 0 ||
        plan.weights[size_t(s.weight)].kind != SlotKind::Dense)
      continue; // (a slot two Embed steps read is decided once)
    EmbeddingTable t;
    t.slot = s.weight;
    const Value root = planned.roots[size_t(t.slot)];
    t.prequantized = prequantizedTable(root);
    if (t.prequantized ? t.slot == rotatedTable
                       : spec.format.type == kernels::WeightType::F32)
      continue;
    t.rows = root;
    if (auto scaled = scaledTable(root); scaled && !t.prequantized) {
      t.rows = scaled->first;
      t.rowScale = scaled->second;
    }
    for (size_t j = 0; j < plan.weights.size(); ++j)
      if (plan.weights[j].kind == SlotKind::Packed && holdsTableRows(planned.roots[j], t.rows))
        t.tiedTo.push_back(int32_t(j));
    plan.weights[size_t(t.slot)].kind = SlotKind::PackedTable;
    tables.push_back(std::move(t));
  }
  return tables;
}

} // namespace llmc::codegen
