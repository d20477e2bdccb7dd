//===- TargetAttrTest.cpp - TargetDesc <-> #llmc.target round trip ---------===//

#include "llmc/Target/TargetAttr.h"

#include "llmc/LLMCDialect.h"

#include "mlir/AsmParser/AsmParser.h"
#include "mlir/IR/MLIRContext.h"

#include "gtest/gtest.h"

using namespace llmc;

namespace {

TEST(TargetAttr, RoundTripsThroughText) {
  for (llvm::StringRef name : namedTargetNames()) {
    auto target = lookupNamedTarget(name);
    ASSERT_TRUE(static_cast<bool>(target));
    std::string text = printTargetAttr(*target);
    EXPECT_EQ(text.rfind("#llmc.target<", 0), 0u) << text;

    mlir::MLIRContext ctx;
    ctx.loadDialect<LLMCDialect>();
    mlir::Attribute parsed = mlir::parseAttribute(text, &ctx);
    ASSERT_TRUE(parsed) << text;
    auto back = fromTargetAttr(parsed);
    ASSERT_TRUE(static_cast<bool>(back)) << llvm::toString(back.takeError());
    EXPECT_EQ(back->cpu, target->cpu);
    EXPECT_EQ(back->features, target->features);
    EXPECT_EQ(back->vectorBits, target->vectorBits);
    EXPECT_EQ(back->caches.l2, target->caches.l2);
    EXPECT_EQ(back->cores, target->cores);
  }
}

TEST(TargetAttr, RejectsOtherAttributes) {
  mlir::MLIRContext ctx;
  auto back = fromTargetAttr(mlir::parseAttribute("42 : i64", &ctx));
  ASSERT_FALSE(static_cast<bool>(back));
  llvm::consumeError(back.takeError());
}

} // namespace
