//===- SymbolicDimTest.cpp - Symbolic dimension arithmetic ----------------===//

#include "SymbolicDim.h"

#include <gtest/gtest.h>

using namespace llmc::onnx_import;

namespace {

TEST(SymbolicDim, CanonicalForm) {
  SymbolTable syms;
  DimExpr s = DimExpr::symbol(syms.intern("seq"));
  DimExpr p = DimExpr::symbol(syms.intern("past"));
  EXPECT_EQ(syms.intern("seq"), *s.getSymbol());
  // p + s == s + p, and (p + s) - p == s
  EXPECT_EQ(*add(p, s), *add(s, p));
  EXPECT_EQ(*sub(*add(p, s), p), s);
  EXPECT_EQ(add(p, s)->str(syms), "seq + past");
  EXPECT_TRUE(add(p, s)->isNonNegative());
  EXPECT_FALSE(sub(p, s)->isNonNegative());
  EXPECT_EQ(*sub(s, s), DimExpr::constant(0));
  EXPECT_TRUE(sub(s, s)->isConstant());
}

TEST(SymbolicDim, ProductsAndExactDivision) {
  SymbolTable syms;
  DimExpr b = DimExpr::symbol(syms.intern("b"));
  DimExpr s = DimExpr::symbol(syms.intern("s"));
  // numel of [b, s, 64] / ([b, s, 8]) = 8 (reshape -1 inference)
  auto numel = product({b, s, DimExpr::constant(64)});
  auto known = product({b, s, DimExpr::constant(8)});
  ASSERT_TRUE(numel && known);
  EXPECT_EQ(*div(*numel, *known), DimExpr::constant(8));
  // (64*b*s) / (8*b) = 8*s
  EXPECT_EQ(*div(*numel, *mul(b, DimExpr::constant(8))),
            *mul(s, DimExpr::constant(8)));
  // b*s / (b + s) is not exact
  EXPECT_FALSE(div(*mul(b, s), *add(b, s)).has_value());
  // (2*s + 1) / 2 is not exact
  EXPECT_FALSE(
      div(*add(*mul(s, DimExpr::constant(2)), DimExpr::constant(1)),
          DimExpr::constant(2))
          .has_value());
  // constants truncate (ONNX integer Div)
  EXPECT_EQ(*div(DimExpr::constant(7), DimExpr::constant(2)), DimExpr::constant(3));
  EXPECT_EQ(*div(DimExpr::constant(-7), DimExpr::constant(2)), DimExpr::constant(-3));
  EXPECT_FALSE(div(s, DimExpr::constant(0)).has_value());
}

TEST(SymbolicDim, Overflow) {
  DimExpr big = DimExpr::constant(INT64_MAX);
  EXPECT_FALSE(add(big, DimExpr::constant(1)).has_value());
  EXPECT_FALSE(mul(big, DimExpr::constant(2)).has_value());
  EXPECT_EQ(*add(big, DimExpr::constant(-1)), DimExpr::constant(INT64_MAX - 1));
}

TEST(SymbolicDim, FreshSymbolsAreDistinct) {
  SymbolTable syms;
  unsigned a = syms.fresh("d"), b = syms.fresh("d");
  EXPECT_NE(a, b);
  EXPECT_TRUE(syms.isFresh(a));
  EXPECT_FALSE(syms.isFresh(syms.intern("batch")));
  EXPECT_NE(DimExpr::symbol(a), DimExpr::symbol(b));
}

} // namespace
