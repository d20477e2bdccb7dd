//===- ProgramEmitter.cpp - ProgramPlan -> MLIR -> LLVM IR -> object code --===//
//
// The planned steps become one MLIR function, `llmc_prefill`, built from scf
// loops, arith/math and llvm pointer ops (dynamic token count `n` as the loop
// bound, every offset and width a constant), plus `llmc_decode`, which calls it
// with one token. Heavy steps are calls of the kernel ABI (ProgramABI.h). The
// module is lowered to the LLVM dialect, translated to LLVM IR, optimized at the
// requested level (-O3 by default) for the target's CPU features and emitted as
// an ELF object.
//
//===----------------------------------------------------------------------===//

#include "llmc/CodeGen/ProgramEmitter.h"
#include "llmc/CodeGen/ProgramABI.h"
#include "llmc/Kernels/ExpApprox.h"

#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"

#include <mutex>

using namespace mlir;
using llvm::Error;
using llvm::Expected;

namespace llmc::codegen {

namespace {

class Emitter {
public:
  Emitter(MLIRContext &ctx, const ProgramPlan &plan)
      : ctx_(ctx), plan_(plan), b_(&ctx), loc_(UnknownLoc::get(&ctx)) {}

  OwningOpRef<ModuleOp> build();

private:
  using BodyFn = llvm::function_ref<void(Value)>;
  Value i64c(int64_t v) {
    return b_.create<arith::ConstantIntOp>(loc_, v, 64);
  }
  Value i32c(int32_t v) {
    return b_.create<arith::ConstantIntOp>(loc_, v, 32);
  }
  Value f32c(float v) {
    return b_.create<arith::ConstantFloatOp>(loc_, llvm::APFloat(v), b_.getF32Type());
  }
  Value add(Value a, Value c) { return b_.create<arith::AddIOp>(loc_, a, c); }
  Value mul(Value a, Value c) { return b_.create<arith::MulIOp>(loc_, a, c); }
  Value fadd(Value a, Value c) { return b_.create<arith::AddFOp>(loc_, a, c); }
  Value fmul(Value a, Value c) { return b_.create<arith::MulFOp>(loc_, a, c); }
  Value fsub(Value a, Value c) { return b_.create<arith::SubFOp>(loc_, a, c); }
  Value fdiv(Value a, Value c) { return b_.create<arith::DivFOp>(loc_, a, c); }

  /// e^x in arith ops, so that the loop vectorizer can widen the loop around
  /// it (a libm expf call it cannot): kernels/ExpApprox.h, as the runtime's
  /// attention softmax computes it.
  Value expF32(Value x) {
    using namespace kernels::exp_approx;
    x = b_.create<arith::MaxNumFOp>(loc_, x, f32c(kMinArg));
    x = b_.create<arith::MinNumFOp>(loc_, x, f32c(kMaxArg));
    Value n = fsub(fadd(fmul(x, f32c(kLog2e)), f32c(kRoundMagic)), f32c(kRoundMagic));
    Value r = fadd(fsub(x, fmul(n, f32c(kLn2Hi))), fmul(n, f32c(kLn2Lo)));
    Value p = fadd(fmul(r, f32c(kExpTaylor[0])), f32c(kExpTaylor[1]));
    for (int i = 2; i < 8; ++i)
      p = fadd(fmul(p, r), f32c(kExpTaylor[i]));
    Value ni = b_.create<arith::FPToSIOp>(loc_, b_.getI32Type(), n);
    Value bits = b_.create<arith::ShLIOp>(
        loc_, b_.create<arith::AddIOp>(loc_, ni, i32c(127)), i32c(23));
    return fmul(p, b_.create<arith::BitcastOp>(loc_, b_.getF32Type(), bits));
  }
  /// tanh(u) = 1 - 2 / (e^(2u) + 1) without libm; e^(2u) saturates (to 0
  /// or a huge value) where tanh does.
  Value tanhF32(Value u) {
    Value e = expF32(fmul(f32c(2.0f), u));
    return fsub(f32c(1.0f), fdiv(f32c(2.0f), fadd(e, f32c(1.0f))));
  }
  /// tanh(sqrt(2/pi) (x + 0.044715 x^3)): GELU's tanh form.
  Value geluTanhArg(Value x) {
    return tanhF32(fmul(f32c(0.7978845608f),
                        fadd(x, fmul(f32c(0.044715f), fmul(x, fmul(x, x))))));
  }
  /// erf(x / sqrt(2)) for GELU's exact form, by Abramowitz & Stegun 7.1.26:
  /// erf(z) = 1 - (a1 t + ... + a5 t^5) e^(-z^2), t = 1 / (1 + p z) for
  /// z >= 0 (absolute error <= 1.5e-7), odd in z.
  Value geluErfArg(Value x) {
    static constexpr float kA[] = {1.061405429f, -1.453152027f, 1.421413741f,
                                   -0.284496736f, 0.254829592f};
    Value z = fmul(x, f32c(0.70710678118f));
    Value az = b_.create<math::AbsFOp>(loc_, z);
    Value t = fdiv(f32c(1.0f), fadd(f32c(1.0f), fmul(f32c(0.3275911f), az)));
    Value p = f32c(kA[0]);
    for (int i = 1; i < 5; ++i)
      p = fadd(fmul(p, t), f32c(kA[i]));
    p = fmul(p, t);
    Value e = fsub(f32c(1.0f),
                   fmul(p, expF32(b_.create<arith::NegFOp>(loc_, fmul(az, az)))));
    return b_.create<math::CopySignOp>(loc_, e, z);
  }
  /// GELU of x: 0.5 x (1 + tanh(...)) or 0.5 x (1 + erf(x / sqrt(2))).
  Value gelu(Value x, bool tanhForm) {
    return fmul(fmul(f32c(0.5f), x),
                fadd(f32c(1.0f), tanhForm ? geluTanhArg(x) : geluErfArg(x)));
  }
  /// &base[offset] for f32 elements (offset in elements).
  Value gep(Value base, Value offset, Type elem = {}) {
    return b_.create<LLVM::GEPOp>(loc_, ptrTy_, elem ? elem : b_.getF32Type(), base,
                                  ValueRange{offset});
  }
  Value load(Value base, Value offset) {
    return b_.create<LLVM::LoadOp>(loc_, b_.getF32Type(), gep(base, offset));
  }
  void store(Value v, Value base, Value offset) {
    b_.create<LLVM::StoreOp>(loc_, v, gep(base, offset));
  }
  /// for (i = lb; i < ub; ++i) body(i)
  void loop(Value lb, Value ub, BodyFn body) {
    auto f = b_.create<scf::ForOp>(loc_, lb, ub, i64c(1));
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPointToStart(f.getBody());
    body(f.getInductionVar());
  }
  /// Sum over [0, n) of f(i), as an f32 reduction.
  Value sum(int64_t n, llvm::function_ref<Value(Value)> f) {
    auto loopOp = b_.create<scf::ForOp>(loc_, i64c(0), i64c(n), i64c(1),
                                        ValueRange{f32c(0.0f)});
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPointToStart(loopOp.getBody());
    Value acc = fadd(loopOp.getRegionIterArgs()[0], f(loopOp.getInductionVar()));
    b_.create<scf::YieldOp>(loc_, acc);
    return loopOp.getResult(0);
  }
  /// Element index of row `t` of a row view, plus `j`.
  Value rowIndex(const RowView &r, Value t, Value j) {
    return add(add(i64c(r.offset), mul(t, i64c(r.rowStride))), j);
  }

  void emitStep(size_t index, const Step &s);
  /// body(t) for every row t in [begin, n), split across the session's threads:
  /// the loop becomes an internal function @llmc_glue_<index>(state, t0, t1,
  /// pos) and the program calls llmc_rt_parallel with its address. rowCost
  /// (elements a row touches) lets the runtime run small loops inline. The
  /// body may use arena_, weights_ and pos_: inside the function they are its
  /// own.
  void parallelRows(size_t index, Value begin, int64_t rowCost, BodyFn body);

  MLIRContext &ctx_;
  const ProgramPlan &plan_;
  OpBuilder b_;
  Location loc_;
  Type ptrTy_;
  Value state_, tokens_, n_, pos_, arena_, weights_, allLogits_;
  LLVM::LLVMFuncOp matmulFn_, attentionFn_, embedFn_, parallelFn_, moeFn_;
  ModuleOp module_;
};

OwningOpRef<ModuleOp> Emitter::build() {
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc_);
  b_.setInsertionPointToEnd(module->getBody());
  ptrTy_ = LLVM::LLVMPointerType::get(&ctx_);
  Type i32 = b_.getI32Type(), i64 = b_.getI64Type();
  Type voidTy = LLVM::LLVMVoidType::get(&ctx_);
  matmulFn_ = b_.create<LLVM::LLVMFuncOp>(
      loc_, kMatmulSymbol,
      LLVM::LLVMFunctionType::get(voidTy, {ptrTy_, i32, ptrTy_, i64, i64, ptrTy_, i64}));
  attentionFn_ = b_.create<LLVM::LLVMFuncOp>(
      loc_, kAttentionSymbol,
      LLVM::LLVMFunctionType::get(voidTy, {ptrTy_, i32, i64, i64}));
  moeFn_ = b_.create<LLVM::LLVMFuncOp>(
      loc_, kMoESymbol, LLVM::LLVMFunctionType::get(voidTy, {ptrTy_, i32, i64}));
  embedFn_ = b_.create<LLVM::LLVMFuncOp>(
      loc_, kEmbedSymbol,
      LLVM::LLVMFunctionType::get(voidTy, {ptrTy_, i32, ptrTy_, i64, ptrTy_, i64}));
  parallelFn_ = b_.create<LLVM::LLVMFuncOp>(
      loc_, kParallelSymbol,
      LLVM::LLVMFunctionType::get(voidTy, {ptrTy_, ptrTy_, i64, i64, i64, i64}));
  module_ = *module;

  // llmc_prefill(state, tokens, n, pos)
  auto prefillTy = b_.getFunctionType({ptrTy_, ptrTy_, i64, i64}, {});
  auto prefill = b_.create<func::FuncOp>(loc_, kPrefillSymbol, prefillTy);
  {
    OpBuilder::InsertionGuard g(b_);
    Block *entry = prefill.addEntryBlock();
    b_.setInsertionPointToStart(entry);
    state_ = entry->getArgument(0);
    tokens_ = entry->getArgument(1);
    n_ = entry->getArgument(2);
    pos_ = entry->getArgument(3);
    // llmc_program_state fields (ProgramABI.h).
    arena_ = b_.create<LLVM::LoadOp>(loc_, ptrTy_, state_);
    weights_ = b_.create<LLVM::LoadOp>(loc_, ptrTy_, gep(state_, i64c(1), ptrTy_));
    allLogits_ = b_.create<LLVM::LoadOp>(loc_, i64, gep(state_, i64c(3), i64));
    for (size_t i = 0; i < plan_.steps.size(); ++i)
      emitStep(i, plan_.steps[i]);
    b_.create<func::ReturnOp>(loc_);
  }
  // llmc_decode(state, token, pos) = llmc_prefill(state, &token, 1, pos)
  auto decodeTy = b_.getFunctionType({ptrTy_, i32, i64}, {});
  auto decode = b_.create<func::FuncOp>(loc_, kDecodeSymbol, decodeTy);
  {
    OpBuilder::InsertionGuard g(b_);
    Block *entry = decode.addEntryBlock();
    b_.setInsertionPointToStart(entry);
    Value slot = b_.create<LLVM::AllocaOp>(loc_, ptrTy_, i32, i64c(1));
    b_.create<LLVM::StoreOp>(loc_, entry->getArgument(1), slot);
    b_.create<func::CallOp>(loc_, prefill,
                            ValueRange{entry->getArgument(0), slot, i64c(1),
                                       entry->getArgument(2)});
    b_.create<func::ReturnOp>(loc_);
  }
  return module;
}

void Emitter::parallelRows(size_t index, Value begin, int64_t rowCost,
                           BodyFn body) {
  Type i64 = b_.getI64Type();
  Type voidTy = LLVM::LLVMVoidType::get(&ctx_);
  LLVM::LLVMFuncOp glue;
  {
    OpBuilder::InsertionGuard g(b_);
    b_.setInsertionPointToEnd(module_.getBody());
    glue = b_.create<LLVM::LLVMFuncOp>(
        loc_, "llmc_glue_" + std::to_string(index),
        LLVM::LLVMFunctionType::get(voidTy, {ptrTy_, i64, i64, i64}),
        LLVM::Linkage::Internal);
    Block *entry = glue.addEntryBlock(b_);
    b_.setInsertionPointToStart(entry);
    // The function's own views of the program state (ProgramABI.h).
    Value state = entry->getArgument(0);
    const Value outer[] = {arena_, weights_, pos_};
    arena_ = b_.create<LLVM::LoadOp>(loc_, ptrTy_, state);
    weights_ = b_.create<LLVM::LoadOp>(loc_, ptrTy_, gep(state, i64c(1), ptrTy_));
    pos_ = entry->getArgument(3);
    loop(entry->getArgument(1), entry->getArgument(2), body);
    b_.create<LLVM::ReturnOp>(loc_, ValueRange{});
    arena_ = outer[0];
    weights_ = outer[1];
    pos_ = outer[2];
  }
  Value fn = b_.create<LLVM::AddressOfOp>(loc_, glue);
  b_.create<LLVM::CallOp>(loc_, parallelFn_,
                          ValueRange{state_, fn, begin, n_, pos_, i64c(rowCost)});
}

void Emitter::emitStep(size_t index, const Step &s) {
  Value zero = i64c(0);
  // First row: 0, or n - 1 for last-only steps unless all logits are wanted.
  Value r0 = zero;
  if (s.lastOnly) {
    Value wantAll = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::ne,
                                             allLogits_, zero);
    r0 = b_.create<arith::SelectOp>(loc_, wantAll, zero,
                                    b_.create<arith::SubIOp>(loc_, n_, i64c(1)));
  }
  switch (s.kind) {
  case StepKind::Embed: {
    // out[t] = table[tokens[t]], read by the runtime (ProgramABI.h: why).
    Value out = gep(arena_, i64c(s.out.offset));
    b_.create<LLVM::CallOp>(loc_, embedFn_,
                            ValueRange{state_, i32c(s.weight), tokens_, n_, out,
                                       i64c(s.out.rowStride)});
    break;
  }
  case StepKind::RmsNorm: {
    const WeightSlot &w = plan_.weights[s.weight];
    // The vector of width elements at element `base` of row t.
    auto normalize = [&](Value t, Value base) {
      Value wt = gep(weights_, i64c(w.offset), b_.getI8Type());
      Value ss = sum(s.width, [&](Value j) {
        Value x = load(arena_, rowIndex(s.in, t, add(base, j)));
        return fmul(x, x);
      });
      Value ms = fdiv(ss, f32c(float(s.width)));
      Value r = fdiv(f32c(1.0f),
                     b_.create<math::SqrtOp>(loc_, fadd(ms, f32c(s.eps))));
      loop(i64c(0), i64c(s.width), [&](Value j) {
        Value x = load(arena_, rowIndex(s.in, t, add(base, j)));
        store(fmul(fmul(x, r), load(wt, j)), arena_, rowIndex(s.out, t, add(base, j)));
      });
    };
    parallelRows(index, r0, 2 * s.width * s.groups, [&](Value t) {
      if (s.groups == 1)
        normalize(t, i64c(0));
      else
        loop(i64c(0), i64c(s.groups),
             [&](Value g) { normalize(t, mul(g, i64c(s.width))); });
    });
    break;
  }
  case StepKind::EmbedPositions: {
    // out[t] = table[pos + t]: consecutive rows, read in place (the session
    // keeps pos + n within the context, and the loader the context within
    // the table).
    const WeightSlot &w = plan_.weights[s.weight];
    Value table = gep(weights_, i64c(w.offset), b_.getI8Type());
    loop(zero, n_, [&](Value t) {
      Value src = mul(add(pos_, t), i64c(s.width));
      loop(zero, i64c(s.width), [&](Value j) {
        store(load(table, add(src, j)), arena_, rowIndex(s.out, t, j));
      });
    });
    break;
  }
  case StepKind::LayerNorm: {
    // Two passes over the row (mean, then the centred variance), as the
    // reference computes it: one-pass E[x^2] - mean^2 cancels badly when
    // the row's mean is large against its spread.
    const WeightSlot &w = plan_.weights[s.weight];
    const WeightSlot *bias = s.bias >= 0 ? &plan_.weights[s.bias] : nullptr;
    parallelRows(index, r0, 3 * s.width, [&](Value t) {
      Value wt = gep(weights_, i64c(w.offset), b_.getI8Type());
      Value bt = bias ? gep(weights_, i64c(bias->offset), b_.getI8Type()) : Value();
      Value mean = fdiv(sum(s.width, [&](Value j) {
                          return load(arena_, rowIndex(s.in, t, j));
                        }),
                        f32c(float(s.width)));
      Value var = fdiv(sum(s.width, [&](Value j) {
                         Value d = fsub(load(arena_, rowIndex(s.in, t, j)), mean);
                         return fmul(d, d);
                       }),
                       f32c(float(s.width)));
      Value r = fdiv(f32c(1.0f),
                     b_.create<math::SqrtOp>(loc_, fadd(var, f32c(s.eps))));
      loop(i64c(0), i64c(s.width), [&](Value j) {
        Value x = fsub(load(arena_, rowIndex(s.in, t, j)), mean);
        Value y = fmul(fmul(x, r), load(wt, j));
        if (bt)
          y = fadd(y, load(bt, j));
        store(y, arena_, rowIndex(s.out, t, j));
      });
    });
    break;
  }
  case StepKind::Softcap: {
    // c * tanh(x / c).
    const float c = s.softcap;
    parallelRows(index, r0, 8 * s.width, [&](Value t) {
      loop(i64c(0), i64c(s.width), [&](Value j) {
        Value x = load(arena_, rowIndex(s.in, t, j));
        store(fmul(f32c(c), tanhF32(fmul(x, f32c(1.0f / c)))), arena_, rowIndex(s.out, t, j));
      });
    });
    break;
  }
  case StepKind::Gelu:
    parallelRows(index, r0, 8 * s.width, [&](Value t) {
      loop(i64c(0), i64c(s.width), [&](Value j) {
        store(gelu(load(arena_, rowIndex(s.in, t, j)), s.geluTanh), arena_,
              rowIndex(s.out, t, j));
      });
    });
    break;
  case StepKind::Matmul: {
    Value x = gep(arena_, rowIndex(s.in, r0, zero));
    Value y = gep(arena_, rowIndex(s.out, r0, zero));
    Value rows = b_.create<arith::SubIOp>(loc_, n_, r0);
    b_.create<LLVM::CallOp>(
        loc_, matmulFn_,
        ValueRange{state_, i32c(s.weight), x,
                   rows, i64c(s.in.rowStride), y, i64c(s.out.rowStride)});
    break;
  }
  case StepKind::RopeTables: {
    // Same float ops as the reference: inv = 1 / theta^(2i/dim), or the
    // frequency slot's inv[i]; angle = float(pos + t) * inv; the tables
    // scaled by the attention factor when there is one.
    Value freqs = s.weight >= 0
                      ? gep(weights_, i64c(plan_.weights[s.weight].offset), b_.getI8Type())
                      : Value();
    Value scale = f32c(s.scale);
    if (s.longWeight >= 0) {
      // LongRoPE: the long set for a call with pos + n > longAfter (both
      // sets are slots then).
      Value useLong = b_.create<arith::CmpIOp>(loc_, arith::CmpIPredicate::sgt, add(pos_, n_),
                                               i64c(s.longAfter));
      Value longFreqs =
          gep(weights_, i64c(plan_.weights[s.longWeight].offset), b_.getI8Type());
      freqs = b_.create<arith::SelectOp>(loc_, useLong, longFreqs, freqs);
      scale = b_.create<arith::SelectOp>(loc_, useLong, f32c(s.longScale), scale);
    }
    const bool scaled = s.scale != 1.0f || (s.longWeight >= 0 && s.longScale != 1.0f);
    loop(zero, i64c(s.rotHalf), [&](Value i) {
      Value inv;
      if (freqs) {
        inv = load(freqs, i);
      } else {
        Value fi = b_.create<arith::SIToFPOp>(loc_, b_.getF32Type(), i);
        Value e = fdiv(fmul(f32c(2.0f), fi), f32c(float(s.headDim)));
        inv = fdiv(f32c(1.0f), b_.create<math::PowFOp>(loc_, f32c(float(s.theta)), e));
      }
      loop(zero, n_, [&](Value t) {
        Value p = b_.create<arith::SIToFPOp>(loc_, b_.getF32Type(), add(pos_, t));
        Value angle = fmul(p, inv);
        Value idx = add(mul(t, i64c(s.rotHalf)), i);
        Value c = b_.create<math::CosOp>(loc_, angle), sn = b_.create<math::SinOp>(loc_, angle);
        if (scaled) {
          c = fmul(c, scale);
          sn = fmul(sn, scale);
        }
        store(c, arena_, add(i64c(s.cos), idx));
        store(sn, arena_, add(i64c(s.sin), idx));
      });
    });
    break;
  }
  case StepKind::Rope: {
    parallelRows(index, zero, s.heads * s.headDim, [&](Value t) {
      Value cb = add(i64c(s.cos), mul(t, i64c(s.rotHalf)));
      Value sb = add(i64c(s.sin), mul(t, i64c(s.rotHalf)));
      loop(i64c(0), i64c(s.heads), [&](Value h) {
        Value xb = add(add(i64c(s.q.offset), mul(t, i64c(s.q.tokenStride))),
                       mul(h, i64c(s.q.headStride)));
        Value yb = add(add(i64c(s.o.offset), mul(t, i64c(s.o.tokenStride))),
                       mul(h, i64c(s.o.headStride)));
        if (2 * s.rotHalf < s.headDim) // partial rotary: copy the tail
          loop(i64c(2 * s.rotHalf), i64c(s.headDim), [&](Value d) {
            store(load(arena_, add(xb, d)), arena_, add(yb, d));
          });
        loop(i64c(0), i64c(s.rotHalf), [&](Value i) {
          Value ia = s.interleaved ? mul(i, i64c(2)) : i;
          Value ib = s.interleaved ? add(mul(i, i64c(2)), i64c(1))
                                   : add(i, i64c(s.rotHalf));
          Value a = load(arena_, add(xb, ia)), bb = load(arena_, add(xb, ib));
          Value c = load(arena_, add(cb, i)), sn = load(arena_, add(sb, i));
          store(fsub(fmul(a, c), fmul(bb, sn)), arena_, add(yb, ia));
          store(fadd(fmul(bb, c), fmul(a, sn)), arena_, add(yb, ib));
        });
      });
    });
    break;
  }
  case StepKind::Attention:
    b_.create<LLVM::CallOp>(
        loc_, attentionFn_,
        ValueRange{state_, b_.create<arith::ConstantIntOp>(loc_, int64_t(index), 32),
                   n_, pos_});
    break;
  case StepKind::MoE:
    b_.create<LLVM::CallOp>(
        loc_, moeFn_,
        ValueRange{state_, i32c(int32_t(index)), n_});
    break;
  case StepKind::SwiGLU:
    parallelRows(index, r0, 8 * s.width, [&](Value t) {
      loop(i64c(0), i64c(s.width), [&](Value j) {
        Value g = load(arena_, rowIndex(s.in, t, j));
        Value u = load(arena_, rowIndex(s.in2, t, j));
        Value act;
        if (s.geglu) { // GeGLU: the Gelu step's formula on the gate
          act = gelu(g, s.geluTanh);
        } else {
          Value sig = fdiv(f32c(1.0f),
                           fadd(f32c(1.0f), expF32(b_.create<arith::NegFOp>(loc_, g))));
          act = fmul(g, sig);
        }
        store(fmul(act, u), arena_, rowIndex(s.out, t, j));
      });
    });
    break;
  case StepKind::Add:
    parallelRows(index, r0, s.width, [&](Value t) {
      loop(i64c(0), i64c(s.width), [&](Value j) {
        store(fadd(load(arena_, rowIndex(s.in, t, j)),
                   load(arena_, rowIndex(s.in2, t, j))),
              arena_, rowIndex(s.out, t, j));
      });
    });
    break;
  }
}

/// "+avx2,+fma,..." for the target's features (names as in #llmc.target).
std::string llvmFeatures(const TargetDesc &t) {
  static const std::pair<const char *, const char *> map[] = {
      {"sse4.2", "+sse4.2"},         {"avx", "+avx"},
      {"avx2", "+avx2"},             {"fma", "+fma"},
      {"f16c", "+f16c"},             {"avx_vnni", "+avxvnni"},
      {"avx512f", "+avx512f"},       {"avx512bw", "+avx512bw"},
      {"avx512vl", "+avx512vl"},     {"avx512dq", "+avx512dq"},
      {"avx512_vnni", "+avx512vnni"}, {"avx512_bf16", "+avx512bf16"},
      {"avx512_fp16", "+avx512fp16"}, {"amx_tile", "+amx-tile"},
      {"amx_int8", "+amx-int8"},     {"amx_bf16", "+amx-bf16"}};
  std::string out;
  for (const std::string &f : t.features)
    for (auto &[name, flag] : map)
      if (f == name) {
        if (!out.empty())
          out += ",";
        out += flag;
      }
  return out;
}

llvm::CodeGenOptLevel codeGenLevel(unsigned optLevel) {
  switch (optLevel) {
  case 0: return llvm::CodeGenOptLevel::None;
  case 1: return llvm::CodeGenOptLevel::Less;
  case 2: return llvm::CodeGenOptLevel::Default;
  default: return llvm::CodeGenOptLevel::Aggressive;
  }
}

llvm::OptimizationLevel pipelineLevel(unsigned optLevel) {
  switch (optLevel) {
  case 0: return llvm::OptimizationLevel::O0;
  case 1: return llvm::OptimizationLevel::O1;
  case 2: return llvm::OptimizationLevel::O2;
  default: return llvm::OptimizationLevel::O3;
  }
}

Expected<std::unique_ptr<llvm::TargetMachine>>
makeTargetMachine(const TargetDesc &t, unsigned optLevel) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  std::string triple = "x86_64-unknown-linux-gnu";
  std::string err;
  const llvm::Target *target = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!target)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "no LLVM target for %s: %s", triple.c_str(),
                                   err.c_str());
  llvm::TargetOptions opts;
  // Generic x86-64 plus exactly the target's features: the object runs on any
  // host that has them (the runtime checks before linking it).
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      triple, "x86-64", llvmFeatures(t), opts, llvm::Reloc::PIC_,
      std::nullopt, codeGenLevel(optLevel)));
  if (!tm)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "cannot create an LLVM target machine");
  return std::move(tm);
}

} // namespace

Expected<ProgramCode> emitProgram(const ProgramPlan &plan, const TargetDesc &target,
                                  const EmitOptions &options) {
  if (options.optLevel > 3)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "optimization level %u is not one of 0..3",
                                   options.optLevel);
  const bool keepIR = options.keepIR;
  DialectRegistry registry;
  registry.insert<arith::ArithDialect, func::FuncDialect, LLVM::LLVMDialect,
                  math::MathDialect, scf::SCFDialect, cf::ControlFlowDialect>();
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  Emitter emitter(ctx, plan);
  OwningOpRef<ModuleOp> module = emitter.build();
  ProgramCode code;
  if (keepIR) {
    llvm::raw_string_ostream os(code.mlir);
    module->print(os);
  }
  if (failed(mlir::verify(*module)))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "the generated program does not verify");

  PassManager pm(&ctx);
  pm.addPass(createConvertSCFToCFPass());
  pm.addPass(createConvertMathToLLVMPass());
  pm.addPass(createArithToLLVMConversionPass());
  pm.addPass(createConvertControlFlowToLLVMPass());
  pm.addPass(createConvertFuncToLLVMPass());
  pm.addPass(createReconcileUnrealizedCastsPass());
  if (failed(pm.run(*module)))
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "lowering the program to the LLVM dialect failed");

  llvm::LLVMContext llctx;
  std::unique_ptr<llvm::Module> llmod = translateModuleToLLVMIR(*module, llctx, "llmc_program");
  if (!llmod)
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   "translating the program to LLVM IR failed");
  auto tm = makeTargetMachine(target, options.optLevel);
  if (!tm)
    return tm.takeError();
  llmod->setDataLayout((*tm)->createDataLayout());
  llmod->setTargetTriple((*tm)->getTargetTriple().str());
  for (llvm::Function &f : *llmod)
    if (!f.isDeclaration()) {
      f.addFnAttr("target-cpu", "x86-64");
      f.addFnAttr("target-features", llvmFeatures(target));
    }

  // LLVM's default pipeline at the requested level (O0: always-inline only).
  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    llvm::PassBuilder pb(tm->get());
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    const llvm::OptimizationLevel level = pipelineLevel(options.optLevel);
    llvm::ModulePassManager mpm = level == llvm::OptimizationLevel::O0
                                      ? pb.buildO0DefaultPipeline(level)
                                      : pb.buildPerModuleDefaultPipeline(level);
    mpm.run(*llmod, mam);
  }
  if (keepIR) {
    llvm::raw_string_ostream os(code.llvmIR);
    llmod->print(os, nullptr);
  }
  llvm::SmallVector<char, 0> obj;
  {
    llvm::raw_svector_ostream os(obj);
    llvm::legacy::PassManager cg;
    if ((*tm)->addPassesToEmitFile(cg, os, nullptr, llvm::CodeGenFileType::ObjectFile))
      return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                     "the target cannot emit object files");
    cg.run(*llmod);
  }
  code.object.assign(obj.begin(), obj.end());
  return code;
}

} // namespace llmc::codegen
