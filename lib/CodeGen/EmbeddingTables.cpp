//===- EmbeddingTables.cpp - How embedding tables are stored --------------===//
#include "EmbeddingTables.h"

#include "../Transforms/MatchUtils.h"

#include "llmc/CodeGen/PrequantizedWeights.h"
#include "llmc/CodeGen/SlotQuantizer.h"
#include "llmc/Quant/RotationFolding.h"
#include "llmc/LLMCOps.h"
#include "llmc/LLMCTypes.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/xxhash.h"

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
  std::optional<std::pair<Value, float>> out;
  match::matchBinary<llmc::MulOp>(throughCasts(table), [&](Value x, Value s) {
    if (std::optional<double> c = match::getScalarFloat(s))
      out = std::pair{x, float(*c)};
    return out.has_value();
  });
  return out;
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

static uint64_t digestOf(ArrayRef<float> rows) {
  return xxh3_64bits(
      ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(rows.data()), rows.size() * 4));
}

PackedTableWriter::PackedTableWriter(PlanResult &planned, ArrayRef<EmbeddingTable> tables,
                                     const CompileOptions &opts, WeightReader &reader,
                                     IsaTier tier,
                                     const quant::RandomizedHadamard *streamRotation,
                                     int32_t rotatedTable)
    : planned_(planned), opts_(opts), reader_(reader), tier_(tier),
      streamRotation_(streamRotation), rotatedTable_(rotatedTable),
      plain_(planned.plan.weights.size(), false), digest_(planned.plan.weights.size(), 0) {
  // Only a float table looks for its values among the matmul slots, and only
  // among those of its shape.
  for (const EmbeddingTable &t : tables)
    if (!t.prequantized)
      floatTableShapes_.push_back(planned.plan.weights[size_t(t.slot)].shape);
}

void PackedTableWriter::notePackedSlot(int32_t slot, bool plain, ArrayRef<float> rows) {
  plain_[size_t(slot)] = plain;
  if (plain && !rows.empty() &&
      llvm::is_contained(floatTableShapes_, planned_.plan.weights[size_t(slot)].shape))
    digest_[size_t(slot)] = digestOf(rows);
}

bool PackedTableWriter::shareable(const EmbeddingTable &table, int32_t slot) const {
  return plain_[size_t(slot)] &&
         (table.prequantized ||
          planned_.plan.weights[size_t(slot)].format == opts_.embedding.format.str());
}

Error PackedTableWriter::share(const EmbeddingTable &table, int32_t slot, StringRef how) {
  WeightSlot &w = planned_.plan.weights[size_t(table.slot)];
  const WeightSlot &o = planned_.plan.weights[size_t(slot)];
  if (opts_.progress)
    opts_.progress(formatv("  {0}: the bytes of '{1}' ({2}{3}){4}", w.name, o.name, o.format,
                           how,
                           table.rowScale != 1.0f
                               ? formatv(", rows scaled by {0}", table.rowScale).str()
                               : std::string())
                       .str());
  w.offset = o.offset;
  w.bytes = o.bytes;
  w.format = o.format;
  w.lanes = o.lanes;
  w.rowScale = table.rowScale;
  return Error::success();
}

Error PackedTableWriter::write(const EmbeddingTable &table, Append append) {
  WeightSlot &slot = planned_.plan.weights[size_t(table.slot)];
  for (int32_t j : table.tiedTo)
    if (shareable(table, j))
      return share(table, j, "");
  auto appendPacked = [&](const kernels::PackedWeights &pk) {
    slot.format = pk.layout().format.str();
    slot.lanes = pk.layout().lanes;
    return append(slot, ArrayRef<uint8_t>(pk.data(), size_t(pk.layout().totalBytes)));
  };
  if (table.prequantized) {
    auto packed = packPrequantizedWeight(table.prequantized, reader_.files(), tier_);
    if (packed)
      return appendPacked(*packed);
    // Not a format the kernels store exactly: the dequantized rows, dense.
    std::string why = toString(packed.takeError());
    if (opts_.progress)
      opts_.progress(formatv("  {0}: stored dense: {1}", slot.name, why).str());
    auto d = reader_.eval(planned_.roots[size_t(table.slot)]);
    if (!d)
      return d.takeError();
    slot.kind = SlotKind::Dense;
    return append(slot, ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(d->data.data()),
                                          d->data.size() * 4));
  }
  auto d = reader_.eval(table.rows);
  if (!d)
    return joinErrors(createStringError(inconvertibleErrorCode(), "weight '%s':",
                                        slot.name.c_str()),
                      d.takeError());
  if (table.slot == rotatedTable_) {
    // The rotated stream starts from rotated embeddings.
    quant::rotateRows(d->data.data(), d->shape[0], *streamRotation_);
  } else {
    // An exporter may store a tied lm_head as its own transposed copy of the
    // table: a plain slot whose source rows are these values (digest, then
    // every value) shares as the graph's tie does.
    const uint64_t digest = digestOf(d->data);
    for (size_t j = 0; j < digest_.size(); ++j) {
      if (digest_[j] != digest || !shareable(table, int32_t(j)) ||
          planned_.plan.weights[j].shape != d->shape)
        continue;
      auto other = reader_.evalTransposed(planned_.roots[j]);
      if (!other)
        return other.takeError();
      if (other->data == d->data)
        return share(table, int32_t(j), ", the same values");
    }
  }
  if (table.rowScale != 1.0f) // the graph's table: rows * scale
    for (float &v : d->data)
      v *= table.rowScale;
  QuantRecipe recipe;
  recipe.weights = opts_.embedding;
  auto q = quantizeSlot(d->data.data(), d->shape[0], d->shape[1], recipe,
                        /*stats=*/nullptr, tier_, /*seed=*/0x5eed0000 + uint64_t(table.slot));
  if (!q)
    return joinErrors(createStringError(inconvertibleErrorCode(), "weight '%s':",
                                        slot.name.c_str()),
                      q.takeError());
  return appendPacked(q->packed);
}

} // namespace llmc::codegen
