//===- LLMCOps.td - llmc graph operations ------------------*- tablegen -*-===//
//
// ONNX-like graph operations. Fused transformer operations are in
// LLMCFusedOps.td (included at the end).
//
//===----------------------------------------------------------------------===//

#ifndef LLMC_OPS_TD
#define LLMC_OPS_TD

include "LLMCDialect.td"
include "LLMCTypes.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def LLMC_FloatElement : AnyTypeOf<[F16, BF16, F32, F64]>;
def LLMC_IntElement : AnyTypeOf<[I8, I16, I32, I64]>;

def LLMC_FloatTensor : RankedTensorOf<[F16, BF16, F32, F64]>;
def LLMC_NumericTensor
    : RankedTensorOf<[F16, BF16, F32, F64, I8, I16, I32, I64]>;
def LLMC_BoolTensor : RankedTensorOf<[I1]>;
def LLMC_IndexTensor : RankedTensorOf<[I32, I64]>;
def LLMC_Tensor : RankedTensorOf<[AnyType]>;
def LLMC_ScalarTensor : 0DTensorOf<[F16, BF16, F32, F64, I8, I16, I32, I64]>;
def LLMC_ShapeTensor : 1DTensorOf<[I64]>;
def LLMC_TensorOrQWeight : AnyTypeOf<[AnyRankedTensor, LLMC_QWeightType],
    "ranked tensor or !llmc.qweight">;

/// Verifies numpy-style broadcasting of all operands to the result
/// (llmc::OpTrait::BroadcastShapes).
def LLMC_BroadcastShapes : LLMC_Trait<"BroadcastShapes">;

//===----------------------------------------------------------------------===//
// Constants and weights
//===----------------------------------------------------------------------===//

def LLMC_ConstantOp : LLMC_Op<"constant", [ConstantLike]> {
  let summary = "small constant tensor";
  let description = [{
    A constant tensor held in the IR (`dense`, `dense_resource`, ...). Meant
    for small constants (shapes, scalars, masks); large weights use
    `llmc.weight`. The result type is the type of `value`.

    ```mlir
    %c = llmc.constant dense<[1, 2]> : tensor<2xi64>
    ```
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs LLMC_Tensor:$output);
  let hasCustomAssemblyFormat = 1;
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLMC_WeightOp : LLMC_Op<"weight"> {
  let summary = "reference to a weight stored in an external file";
  let description = [{
    Names the `name`d weight whose bytes start at `offset` in `file` (mmap'ed
    when the program is built or run). The data never enters the IR. The
    result is either a plain tensor (its bytes are the row-major elements) or
    a `!llmc.qweight`. When `length` is given it must equal the byte size of
    a statically shaped tensor, or be at least the payload size of a
    `!llmc.qweight` (packed layouts may pad).

    ```mlir
    %w = llmc.weight "layers.0.wq" from "model.bin" at 4096 length 32 : tensor<4x2xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$file, I64Attr:$offset,
                       OptionalAttr<I64Attr>:$length);
  let results = (outs LLMC_TensorOrQWeight:$result);
  let assemblyFormat = [{
    $name `from` $file `at` $offset (`length` $length^)? attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise binary operations (numpy broadcasting)
//===----------------------------------------------------------------------===//

class LLMC_BinaryOp<string mnemonic, string math, TypeConstraint operandType,
                    TypeConstraint resultType, list<Trait> traits = []>
    : LLMC_Op<mnemonic, !listconcat(traits, [LLMC_BroadcastShapes])> {
  let summary = "elementwise " # math;
  let description = [{
    Computes `}] # math # [{` elementwise. Operands are broadcast
    numpy-style: shapes are aligned on the right; each pair of dimensions
    must be equal or one of them must be 1. The result has the broadcast
    shape.
  }];
  let arguments = (ins operandType:$lhs, operandType:$rhs);
  let results = (outs resultType:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
}

class LLMC_ArithOp<string mnemonic, string math, list<Trait> traits = []>
    : LLMC_BinaryOp<mnemonic, math, LLMC_NumericTensor, LLMC_NumericTensor,
                    !listconcat(traits,
                                [AllElementTypesMatch<["lhs", "rhs", "result"]>])>;

def LLMC_AddOp : LLMC_ArithOp<"add", "lhs + rhs", [Commutative]>;
def LLMC_SubOp : LLMC_ArithOp<"sub", "lhs - rhs">;
def LLMC_MulOp : LLMC_ArithOp<"mul", "lhs * rhs", [Commutative]>;
def LLMC_DivOp : LLMC_ArithOp<"div", "lhs / rhs (truncating for integers)">;
def LLMC_MaxOp : LLMC_ArithOp<"max", "max(lhs, rhs)", [Commutative]>;
def LLMC_MinOp : LLMC_ArithOp<"min", "min(lhs, rhs)", [Commutative]>;
def LLMC_PowOp : LLMC_BinaryOp<"pow", "lhs ^ rhs", LLMC_FloatTensor,
    LLMC_FloatTensor, [AllElementTypesMatch<["lhs", "rhs", "result"]>]>;

class LLMC_CompareOp<string mnemonic, string math, TypeConstraint operandType,
                     list<Trait> traits = []>
    : LLMC_BinaryOp<mnemonic, math # " (i1 result)", operandType,
                    LLMC_BoolTensor,
                    !listconcat(traits, [AllElementTypesMatch<["lhs", "rhs"]>])>;

def LLMC_EqualOp : LLMC_CompareOp<"equal", "lhs == rhs",
    RankedTensorOf<[F16, BF16, F32, F64, I1, I8, I16, I32, I64]>, [Commutative]>;
def LLMC_GreaterOp : LLMC_CompareOp<"greater", "lhs > rhs", LLMC_NumericTensor>;
def LLMC_LessOp : LLMC_CompareOp<"less", "lhs < rhs", LLMC_NumericTensor>;
def LLMC_LessEqualOp
    : LLMC_CompareOp<"less_equal", "lhs <= rhs", LLMC_NumericTensor>;
def LLMC_GreaterEqualOp
    : LLMC_CompareOp<"greater_equal", "lhs >= rhs", LLMC_NumericTensor>;

def LLMC_AndOp : LLMC_BinaryOp<"and", "lhs && rhs", LLMC_BoolTensor,
                               LLMC_BoolTensor, [Commutative]>;
def LLMC_OrOp : LLMC_BinaryOp<"or", "lhs || rhs", LLMC_BoolTensor,
                              LLMC_BoolTensor, [Commutative]>;

def LLMC_WhereOp : LLMC_Op<"where", [LLMC_BroadcastShapes,
    AllElementTypesMatch<["true_value", "false_value", "result"]>]> {
  let summary = "elementwise select";
  let description = [{
    `result = condition ? true_value : false_value`, elementwise, with all
    three operands broadcast numpy-style to the result shape.
  }];
  let arguments = (ins LLMC_BoolTensor:$condition, LLMC_Tensor:$true_value,
                       LLMC_Tensor:$false_value);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = [{
    $condition `,` $true_value `,` $false_value attr-dict `:`
    functional-type(operands, results)
  }];
}

//===----------------------------------------------------------------------===//
// Elementwise unary operations
//===----------------------------------------------------------------------===//

class LLMC_UnaryOp<string mnemonic, string math, TypeConstraint type,
                   list<Trait> traits = []>
    : LLMC_Op<mnemonic, !listconcat(traits, [SameOperandsAndResultShape,
                                             SameOperandsAndResultElementType])> {
  let summary = "elementwise " # math;
  let description = [{
    Computes `}] # math # [{` elementwise. Operand and result have the same
    element type and compatible shapes.
  }];
  let arguments = (ins type:$x);
  let results = (outs type:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
}

def LLMC_NegOp : LLMC_UnaryOp<"neg", "-x", LLMC_NumericTensor>;
def LLMC_AbsOp : LLMC_UnaryOp<"abs", "|x|", LLMC_NumericTensor>;
def LLMC_SqrtOp : LLMC_UnaryOp<"sqrt", "sqrt(x)", LLMC_FloatTensor>;
def LLMC_RsqrtOp : LLMC_UnaryOp<"rsqrt", "1 / sqrt(x)", LLMC_FloatTensor>;
def LLMC_ReciprocalOp : LLMC_UnaryOp<"reciprocal", "1 / x", LLMC_FloatTensor>;
def LLMC_ExpOp : LLMC_UnaryOp<"exp", "e^x", LLMC_FloatTensor>;
def LLMC_LogOp : LLMC_UnaryOp<"log", "ln(x)", LLMC_FloatTensor>;
def LLMC_TanhOp : LLMC_UnaryOp<"tanh", "tanh(x)", LLMC_FloatTensor>;
def LLMC_SigmoidOp : LLMC_UnaryOp<"sigmoid", "1 / (1 + e^-x)", LLMC_FloatTensor>;
def LLMC_ErfOp : LLMC_UnaryOp<"erf", "erf(x)", LLMC_FloatTensor>;
def LLMC_CosOp : LLMC_UnaryOp<"cos", "cos(x)", LLMC_FloatTensor>;
def LLMC_SinOp : LLMC_UnaryOp<"sin", "sin(x)", LLMC_FloatTensor>;
def LLMC_SiluOp : LLMC_UnaryOp<"silu", "x * sigmoid(x)", LLMC_FloatTensor>;
def LLMC_NotOp : LLMC_UnaryOp<"not", "!x", LLMC_BoolTensor>;

def LLMC_CastOp : LLMC_Op<"cast", [SameOperandsAndResultShape]> {
  let summary = "elementwise element type conversion";
  let description = [{
    Converts every element to the result element type (ONNX Cast): float
    rounding is to nearest-even, float to int truncates toward zero, to i1
    is `x != 0`.
  }];
  let arguments = (ins LLMC_Tensor:$x);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

class LLMC_ReduceOp<string mnemonic, string math>
    : LLMC_Op<mnemonic, [AllElementTypesMatch<["data", "result"]>]> {
  let summary = math # " over axes";
  let description = [{
    Reduces `data` with }] # math # [{ over `axes` (negative values count
    from the back; empty means all axes). With `keepdims` (default) the
    reduced dimensions stay as size 1, otherwise they are removed.
  }];
  let arguments = (ins LLMC_NumericTensor:$data,
                       DefaultValuedAttr<DenseI64ArrayAttr, "{}">:$axes,
                       DefaultValuedAttr<BoolAttr, "true">:$keepdims);
  let results = (outs LLMC_NumericTensor:$result);
  let assemblyFormat = "$data attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let extraClassDefinition = [{
    ::mlir::LogicalResult $cppClass::verify() {
      return ::llmc::detail::verifyReduction(getOperation(), getAxes(),
                                             getKeepdims());
    }
  }];
}

def LLMC_ReduceMeanOp : LLMC_ReduceOp<"reduce_mean", "the arithmetic mean">;
def LLMC_ReduceSumOp : LLMC_ReduceOp<"reduce_sum", "the sum">;
def LLMC_ReduceMaxOp : LLMC_ReduceOp<"reduce_max", "the maximum">;

//===----------------------------------------------------------------------===//
// Linear algebra
//===----------------------------------------------------------------------===//

def LLMC_MatMulOp : LLMC_Op<"matmul",
    [AllElementTypesMatch<["a", "b", "result"]>]> {
  let summary = "batched matrix product (ONNX MatMul)";
  let description = [{
    `result[..., m, n] = sum_k a[..., m, k] * b[..., k, n]`. Batch dims are
    broadcast numpy-style. A 1-D `a` is promoted to [1, K] and a 1-D `b` to
    [K, 1]; the promoted dims are removed from the result (numpy matmul).
  }];
  let arguments = (ins LLMC_NumericTensor:$a, LLMC_NumericTensor:$b);
  let results = (outs LLMC_NumericTensor:$result);
  let assemblyFormat = [{
    $a `,` $b attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_SoftmaxOp : LLMC_Op<"softmax",
    [SameOperandsAndResultShape, SameOperandsAndResultElementType]> {
  let summary = "softmax along one axis";
  let description = [{
    `result = exp(x - max(x)) / sum(exp(x - max(x)))` along `axis`
    (default -1, the last one).
  }];
  let arguments = (ins LLMC_FloatTensor:$x,
                       DefaultValuedAttr<I64Attr, "-1">:$axis);
  let results = (outs LLMC_FloatTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

def LLMC_ReshapeOp : LLMC_Op<"reshape",
    [AllElementTypesMatch<["x", "result"]>]> {
  let summary = "reshape with ONNX 0 / -1 semantics";
  let description = [{
    Reinterprets `x` (row-major) with the shape given by `shape`: 0 copies
    the corresponding input dimension, -1 (at most once) is inferred from
    the element count. `shape` has one entry per result dimension.
  }];
  let arguments = (ins LLMC_Tensor:$x, DenseI64ArrayAttr:$shape);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLMC_TransposeOp : LLMC_Op<"transpose",
    [AllElementTypesMatch<["x", "result"]>]> {
  let summary = "permute dimensions";
  let description = [{
    `result.shape[i] = x.shape[perm[i]]`; `perm` is a permutation of
    [0, rank).
  }];
  let arguments = (ins LLMC_Tensor:$x, DenseI64ArrayAttr:$perm);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLMC_ConcatOp : LLMC_Op<"concat"> {
  let summary = "concatenate tensors along an axis";
  let description = [{
    Joins the inputs along `axis` (negative counts from the back). All
    inputs have the same rank and element type and agree on every other
    dimension.
  }];
  let arguments = (ins Variadic<LLMC_Tensor>:$inputs, I64Attr:$axis);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = [{
    $inputs attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_SliceOp : LLMC_Op<"slice", [AllElementTypesMatch<["x", "result"]>]> {
  let summary = "strided slice (ONNX Slice with static parameters)";
  let description = [{
    For each `i`, takes `starts[i] : ends[i] : steps[i]` along `axes[i]`
    (ONNX semantics: negative starts/ends count from the back, values are
    clamped, steps may be negative but not 0). `axes` defaults to
    [0, len(starts)) and `steps` to all ones. Other dims are unchanged.
  }];
  let arguments = (ins LLMC_Tensor:$x, DenseI64ArrayAttr:$starts,
                       DenseI64ArrayAttr:$ends,
                       OptionalAttr<DenseI64ArrayAttr>:$axes,
                       OptionalAttr<DenseI64ArrayAttr>:$steps);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLMC_SplitOp : LLMC_Op<"split"> {
  let summary = "split a tensor into pieces along an axis";
  let description = [{
    Cuts `x` along `axis` into one piece per result, of `sizes[i]` elements
    each (the sizes add up to the dimension), or into equal pieces when
    `sizes` is absent.
  }];
  let arguments = (ins LLMC_Tensor:$x, I64Attr:$axis,
                       OptionalAttr<DenseI64ArrayAttr>:$sizes);
  let results = (outs Variadic<LLMC_Tensor>:$outputs);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def LLMC_ExpandOp : LLMC_Op<"expand", [AllElementTypesMatch<["x", "result"]>]> {
  let summary = "broadcast a tensor to a larger shape (ONNX Expand)";
  let description = [{
    Broadcasts `x` numpy-style to the result shape: aligned on the right,
    every dim of `x` is 1 or equal to the result's. The result rank is at
    least the rank of `x`. The optional `shape` operand (1-D i64, one entry
    per result dim) supplies dynamic result dims at run time.
  }];
  let arguments = (ins LLMC_Tensor:$x, Optional<LLMC_ShapeTensor>:$shape);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = [{
    $x (`,` $shape^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLMC_GatherOp : LLMC_Op<"gather",
    [AllElementTypesMatch<["data", "result"]>]> {
  let summary = "gather slices along an axis (ONNX Gather)";
  let description = [{
    `result[i_0..i_{a-1}, j_0..j_{q-1}, k..] = data[i.., indices[j..], k..]`
    with `a = axis`: the result shape is
    `data.shape[:axis] + indices.shape + data.shape[axis+1:]`. Negative
    indices count from the back (e.g. embedding lookup with axis = 0).
  }];
  let arguments = (ins LLMC_Tensor:$data, LLMC_IndexTensor:$indices,
                       DefaultValuedAttr<I64Attr, "0">:$axis);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = [{
    $data `,` $indices attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def LLMC_RangeOp : LLMC_Op<"range",
    [AllElementTypesMatch<["start", "limit", "delta", "result"]>]> {
  let summary = "arithmetic sequence (ONNX Range)";
  let description = [{
    `result[i] = start + i * delta` for
    `i < max(ceil((limit - start) / delta), 0)`; the operands are scalars
    (rank-0 tensors).
  }];
  let arguments = (ins LLMC_ScalarTensor:$start, LLMC_ScalarTensor:$limit,
                       LLMC_ScalarTensor:$delta);
  let results = (outs 1DTensorOf<[F16, BF16, F32, F64, I8, I16, I32, I64]>:$result);
  let assemblyFormat = [{
    $start `,` $limit `,` $delta attr-dict `:` functional-type(operands, results)
  }];
}

def LLMC_TriluOp : LLMC_Op<"trilu",
    [SameOperandsAndResultShape, SameOperandsAndResultElementType]> {
  let summary = "keep the upper or lower triangle of the last two dims";
  let description = [{
    With `upper` (default) keeps elements with `col - row >= k`, otherwise
    those with `col - row <= k`; the others become 0. Applies to the last
    two dimensions (rank >= 2).
  }];
  let arguments = (ins LLMC_Tensor:$x, DefaultValuedAttr<BoolAttr, "true">:$upper,
                       DefaultValuedAttr<I64Attr, "0">:$k);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
}

def LLMC_ShapeOfOp : LLMC_Op<"shape_of"> {
  let summary = "the shape of a tensor as a 1-D i64 tensor";
  let description = [{
    Returns the dimensions of `x` (ONNX Shape without start/end); the
    result length is the rank of `x`. Folds when `x` is statically shaped.
  }];
  let arguments = (ins LLMC_Tensor:$x);
  let results = (outs LLMC_ShapeTensor:$result);
  let assemblyFormat = "$x attr-dict `:` type($x) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def LLMC_ConstantOfShapeOp : LLMC_Op<"constant_of_shape"> {
  let summary = "tensor of a given shape filled with one value";
  let description = [{
    Creates a tensor whose shape is the content of the 1-D `shape` operand,
    every element equal to the scalar `value` (whose type is the result
    element type).
  }];
  let arguments = (ins LLMC_ShapeTensor:$shape, TypedAttrInterface:$value);
  let results = (outs LLMC_Tensor:$result);
  let assemblyFormat = [{
    $shape attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

include "LLMCFusedOps.td"

#endif // LLMC_OPS_TD
