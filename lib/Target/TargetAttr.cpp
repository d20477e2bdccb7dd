//===- TargetAttr.cpp - TargetDesc <-> #llmc.target -------------------------===//

#include "llmc/Target/TargetAttr.h"

#include "llmc/LLMCAttrs.h"
#include "llmc/LLMCDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/MLIRContext.h"

using namespace llmc;

mlir::Attribute llmc::toTargetAttr(mlir::MLIRContext *ctx,
                                   const TargetDesc &target) {
  ctx->getOrLoadDialect<LLMCDialect>();
  mlir::Builder b(ctx);
  llvm::SmallVector<mlir::Attribute> features;
  for (const std::string &f : target.features)
    features.push_back(b.getStringAttr(f));
  return TargetAttr::get(ctx, target.cpu, b.getArrayAttr(features),
                         target.vectorBits, target.caches.l1d,
                         target.caches.l2, target.caches.l3, target.cores);
}

llvm::Expected<TargetDesc> llmc::fromTargetAttr(mlir::Attribute attr) {
  auto t = llvm::dyn_cast_or_null<TargetAttr>(attr);
  if (!t)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "expected a #llmc.target attribute");
  std::vector<std::string> features;
  for (mlir::Attribute f : t.getFeatures()) {
    auto s = llvm::dyn_cast<mlir::StringAttr>(f);
    if (!s)
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "#llmc.target features must be strings");
    features.push_back(s.str());
  }
  return makeTarget(t.getCpu().str(), features,
                    {t.getL1d(), t.getL2(), t.getL3()}, t.getCores());
}

std::string llmc::printTargetAttr(const TargetDesc &target) {
  mlir::MLIRContext ctx;
  std::string out;
  llvm::raw_string_ostream os(out);
  toTargetAttr(&ctx, target).print(os);
  return os.str();
}
