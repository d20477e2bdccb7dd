//===- GraphImporter.cpp - ONNX graph -> llmc func ------------------------===//

#include "GraphImporter.h"

#include "OpRegistry.h"

#include "llmc/LLMCDialect.h"
#include "llmc/LLMCOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <map>

using namespace llmc::onnx_import;
using llvm::createStringError;
using llvm::inconvertibleErrorCode;

static llvm::Error makeError(const llvm::Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg.str());
}

//===----------------------------------------------------------------------===//
// TensorInfo and value helpers
//===----------------------------------------------------------------------===//

bool TensorInfo::hasStaticShape() const {
  return llvm::all_of(dims, [](const DimExpr &d) { return d.isConstant(); });
}

std::optional<int64_t> TensorInfo::staticNumElements() const {
  int64_t n = 1;
  for (const DimExpr &d : dims) {
    auto c = d.getConstant();
    if (!c || *c < 0 || (*c && n > INT64_MAX / *c))
      return std::nullopt;
    n *= *c;
  }
  return n;
}

bool TensorInfo::isConstant() const {
  if (constant)
    return true;
  return content && llvm::all_of(*content, [](const DimExpr &d) {
           return d.isConstant();
         });
}

std::optional<llvm::SmallVector<int64_t>> TensorInfo::constInts() const {
  if (!content)
    return std::nullopt;
  llvm::SmallVector<int64_t> out;
  for (const DimExpr &d : *content) {
    auto c = d.getConstant();
    if (!c)
      return std::nullopt;
    out.push_back(*c);
  }
  return out;
}

mlir::RankedTensorType llmc::onnx_import::tensorTypeOf(const TensorInfo &info) {
  llvm::SmallVector<int64_t> shape;
  for (const DimExpr &d : info.dims) {
    auto c = d.getConstant();
    shape.push_back(c && *c >= 0 ? *c : mlir::ShapedType::kDynamic);
  }
  return mlir::RankedTensorType::get(shape, info.elemType);
}

mlir::Type llmc::onnx_import::elementTypeOf(mlir::MLIRContext *ctx,
                                            int32_t dataType) {
  using T = onnx::TensorProto;
  mlir::Builder b(ctx);
  switch (dataType) {
  case T::FLOAT:
    return b.getF32Type();
  case T::FLOAT16:
    return b.getF16Type();
  case T::BFLOAT16:
    return b.getBF16Type();
  case T::DOUBLE:
    return b.getF64Type();
  case T::INT64:
    return b.getIntegerType(64);
  case T::INT32:
    return b.getIntegerType(32);
  case T::INT16:
    return b.getIntegerType(16);
  case T::INT8:
    return b.getIntegerType(8);
  case T::UINT8:
    return b.getIntegerType(8, /*isSigned=*/false);
  case T::UINT16:
    return b.getIntegerType(16, /*isSigned=*/false);
  case T::UINT32:
    return b.getIntegerType(32, /*isSigned=*/false);
  case T::UINT64:
    return b.getIntegerType(64, /*isSigned=*/false);
  case T::BOOL:
    return b.getI1Type();
  case kOnnxUInt4:
    return b.getIntegerType(4, /*isSigned=*/false);
  case kOnnxInt4:
    return b.getIntegerType(4);
  default:
    return {};
  }
}


void llmc::onnx_import::setConstantValue(TensorInfo &info,
                                         mlir::DenseElementsAttr value) {
  info.constant = value;
  info.content.reset();
  auto intType = llvm::dyn_cast<mlir::IntegerType>(value.getElementType());
  if (!intType || value.getNumElements() > kMaxContentElements)
    return;
  llvm::SmallVector<DimExpr, 4> content;
  bool isUnsigned = intType.isUnsigned() || intType.getWidth() == 1;
  for (const llvm::APInt &v : value.getValues<llvm::APInt>())
    content.push_back(DimExpr::constant(
        isUnsigned ? int64_t(v.getZExtValue()) : v.getSExtValue()));
  info.content = std::move(content);
}

void llmc::onnx_import::setContentValue(TensorInfo &info,
                                        llvm::ArrayRef<DimExpr> content) {
  info.content = llvm::SmallVector<DimExpr, 4>(content.begin(), content.end());
  info.constant = {};
  auto intType = llvm::dyn_cast<mlir::IntegerType>(info.elemType);
  if (!intType || !info.hasStaticShape())
    return;
  llvm::SmallVector<llvm::APInt> vals;
  for (const DimExpr &d : content) {
    auto c = d.getConstant();
    if (!c)
      return;
    vals.push_back(llvm::APInt(intType.getWidth(), uint64_t(*c),
                               /*isSigned=*/intType.getWidth() > 1));
  }
  auto type = tensorTypeOf(info);
  if (type.getNumElements() != int64_t(vals.size()))
    return;
  info.constant = mlir::DenseElementsAttr::get(type, vals);
}

mlir::DenseElementsAttr
llmc::onnx_import::denseFromBytes(mlir::RankedTensorType type,
                                  llvm::StringRef bytes) {
  if (type.getElementType().isInteger(1)) {
    llvm::SmallVector<bool> vals;
    for (char c : bytes)
      vals.push_back(c != 0);
    return mlir::DenseElementsAttr::get(type, vals);
  }
  if (type.getNumElements() == 0)
    return mlir::DenseElementsAttr::get(type, llvm::ArrayRef<llvm::APInt>{});
  if (type.getElementType().isInteger(4)) {
    // ONNX packs 4-bit integers two per byte, the first in the low nibble.
    llvm::SmallVector<llvm::APInt> vals;
    for (int64_t i = 0; i < type.getNumElements(); ++i) {
      unsigned nib = (uint8_t(bytes[size_t(i / 2)]) >> (4 * (i % 2))) & 0xF;
      vals.push_back(llvm::APInt(4, nib));
    }
    return mlir::DenseElementsAttr::get(type, vals);
  }
  return mlir::DenseElementsAttr::getFromRawBuffer(
      type, llvm::ArrayRef<char>(bytes.data(), bytes.size()));
}

//===----------------------------------------------------------------------===//
// NodeContext
//===----------------------------------------------------------------------===//

NodeContext::NodeContext(GraphImporter &imp, const onnx::NodeProto &node,
                         int64_t opset, llvm::SmallBitVector &consumed)
    : imp(imp), nodeProto(node), opsetVersion(opset),
      consumed(consumed) {
  if (consumed.size() < size_t(node.input_size()))
    consumed.resize(node.input_size());
}

mlir::MLIRContext *NodeContext::getContext() { return imp.getContext(); }
SymbolTable &NodeContext::symbols() { return imp.symbols(); }

bool NodeContext::hasInput(unsigned i) const {
  return i < numInputs() && !nodeProto.input(int(i)).empty();
}

TensorInfo &NodeContext::input(unsigned i) {
  TensorInfo *info = hasInput(i) ? imp.lookup(nodeProto.input(int(i))) : nullptr;
  if (!info) {
    scratch = TensorInfo();
    scratch.elemType = mlir::NoneType::get(getContext());
    return scratch;
  }
  return *info;
}

bool NodeContext::hasOutput(unsigned i) const {
  return i < numOutputs() && !nodeProto.output(int(i)).empty();
}

TensorInfo &NodeContext::output(unsigned i) {
  TensorInfo *info = hasOutput(i) ? imp.lookup(nodeProto.output(int(i))) : nullptr;
  return info ? *info : scratch;
}

TensorInfo &NodeContext::setOutput(unsigned i, mlir::Type elemType,
                                   llvm::ArrayRef<DimExpr> dims) {
  TensorInfo &out = output(i);
  out.elemType = elemType;
  out.dims.assign(dims.begin(), dims.end());
  out.content.reset();
  out.constant = {};
  return out;
}

bool NodeContext::isOutputUsed(unsigned i) const {
  return hasOutput(i) && imp.isUsed(nodeProto.output(int(i)));
}

const onnx::AttributeProto *NodeContext::attr(llvm::StringRef name) const {
  for (const auto &a : nodeProto.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

llvm::Expected<int64_t> NodeContext::attrInt(llvm::StringRef name,
                                             int64_t dflt) const {
  const auto *a = attr(name);
  if (!a)
    return dflt;
  if (a->type() != onnx::AttributeProto::INT && !a->has_i())
    return error("attribute '" + name + "' must be an integer");
  return a->i();
}

llvm::Expected<float> NodeContext::attrFloat(llvm::StringRef name,
                                             float dflt) const {
  const auto *a = attr(name);
  if (!a)
    return dflt;
  if (a->type() != onnx::AttributeProto::FLOAT && !a->has_f())
    return error("attribute '" + name + "' must be a float");
  return a->f();
}

int64_t NodeContext::intAttrOr(llvm::StringRef name, int64_t dflt) const {
  const auto *a = attr(name);
  return a && a->type() == onnx::AttributeProto::INT ? a->i() : dflt;
}

float NodeContext::floatAttrOr(llvm::StringRef name, float dflt) const {
  const auto *a = attr(name);
  return a && a->type() == onnx::AttributeProto::FLOAT ? a->f() : dflt;
}

llvm::Expected<std::string>
NodeContext::attrString(llvm::StringRef name, llvm::StringRef dflt) const {
  const auto *a = attr(name);
  if (!a)
    return dflt.str();
  if (a->type() != onnx::AttributeProto::STRING && !a->has_s())
    return error("attribute '" + name + "' must be a string");
  return a->s();
}

llvm::Expected<std::optional<llvm::SmallVector<int64_t>>>
NodeContext::attrInts(llvm::StringRef name) const {
  const auto *a = attr(name);
  if (!a)
    return std::nullopt;
  if (a->type() != onnx::AttributeProto::INTS &&
      a->type() != onnx::AttributeProto::UNDEFINED)
    return error("attribute '" + name + "' must be a list of integers");
  return llvm::SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

llvm::Expected<llvm::SmallVector<int64_t>>
NodeContext::constIntsInput(unsigned i, llvm::StringRef what) {
  if (!hasInput(i))
    return error("missing input '" + what + "'");
  auto vals = input(i).constInts();
  if (!vals)
    return error("its " + what + " input ('" + nodeProto.input(int(i)) +
                 "') must be known at import time, but it depends on "
                 "run-time values");
  consumeAsAttribute(i);
  return *vals;
}

std::string NodeContext::describe() const {
  // An importer-internal node (rewriteQuantizedPatterns) says which nodes of
  // the model it stands for.
  for (const auto &a : nodeProto.attribute())
    if (a.name() == "origin" && a.type() == onnx::AttributeProto::STRING &&
        nodeProto.domain() == "llmc.internal")
      return a.s();
  std::string name = nodeProto.name().empty()
                         ? (nodeProto.output_size() ? "-> " + nodeProto.output(0)
                                                    : std::string("?"))
                         : nodeProto.name();
  return "node '" + name + "' (" + nodeProto.op_type() + ")";
}

llvm::Error NodeContext::error(const llvm::Twine &msg) const {
  return makeError(describe() + ": " + msg);
}

mlir::OpBuilder &NodeContext::builder() { return imp.builder(); }
mlir::Location NodeContext::loc() { return imp.nodeLoc(nodeProto); }

llvm::Expected<mlir::Value> NodeContext::operand(unsigned i) {
  if (!hasInput(i))
    return error("missing input " + llvm::Twine(i));
  return imp.materialize(nodeProto.input(int(i)), input(i));
}

mlir::RankedTensorType NodeContext::outputType(unsigned i) {
  return tensorTypeOf(output(i));
}

void NodeContext::setResult(unsigned i, mlir::Value v) {
  if (hasOutput(i))
    output(i).value = v;
}

mlir::Value NodeContext::constantOf(mlir::RankedTensorType type,
                                    mlir::DenseElementsAttr value) {
  return imp.getConstant(loc(), type, value);
}

//===----------------------------------------------------------------------===//
// GraphImporter
//===----------------------------------------------------------------------===//

GraphImporter::GraphImporter(mlir::MLIRContext &ctx, LoadedModel &model,
                             const ImportOptions &options)
    : ctx(ctx), loaded(model), options(options), b(&ctx),
      fileLoc(mlir::FileLineColLoc::get(&ctx, model.path(), 0, 0)) {}

TensorInfo *GraphImporter::lookup(llvm::StringRef name) {
  auto it = values.find(name);
  return it == values.end() ? nullptr : &it->second;
}

TensorInfo &GraphImporter::define(llvm::StringRef name) {
  return values[name];
}

mlir::Location GraphImporter::nodeLoc(const onnx::NodeProto &node) {
  llvm::StringRef name = node.name().empty() ? node.op_type() : node.name();
  return mlir::NameLoc::get(mlir::StringAttr::get(&ctx, name), fileLoc);
}

llvm::Error GraphImporter::checkSupportedOps() {
  const OpRegistry &registry = OpRegistry::get();
  // op type + domain -> node names, in first-seen order.
  std::vector<std::pair<std::string, std::vector<std::string>>> missing;
  std::map<std::string, size_t> index;
  nodeOpsets.clear();
  for (const auto &node : loaded.graph().node()) {
    llvm::StringRef domain = node.domain();
    std::optional<int64_t> version = loaded.opsetVersion(domain);
    nodeOpsets.push_back(version.value_or(-1));
    if (version && registry.lookup(domain, node.op_type(), *version))
      continue;
    std::string key = node.op_type() + " (domain '" +
                      (domain.empty() ? std::string("ai.onnx") : domain.str()) +
                      "'" +
                      (version ? ", opset " + std::to_string(*version)
                               : std::string(", not in opset_import")) +
                      ")";
    auto [it, inserted] = index.try_emplace(key, missing.size());
    if (inserted)
      missing.push_back({key, {}});
    missing[it->second].second.push_back(
        !node.name().empty() ? "'" + node.name() + "'"
        : node.output_size() ? "<unnamed> (output '" + node.output(0) + "')"
                             : std::string("<unnamed>"));
  }
  if (missing.empty())
    return llvm::Error::success();
  std::string msg;
  llvm::raw_string_ostream os(msg);
  size_t count = 0;
  for (auto &m : missing)
    count += m.second.size();
  os << "unsupported ONNX operator" << (missing.size() > 1 ? "s" : "")
     << " (" << missing.size() << " type" << (missing.size() > 1 ? "s" : "")
     << ", " << count << " node" << (count > 1 ? "s" : "") << "):";
  constexpr size_t kMaxNames = 8;
  for (auto &[key, names] : missing) {
    os << "\n  " << key << ": node" << (names.size() > 1 ? "s" : "") << " ";
    for (size_t i = 0; i < names.size() && i < kMaxNames; ++i)
      os << (i ? ", " : "") << names[i];
    if (names.size() > kMaxNames)
      os << " and " << names.size() - kMaxNames << " more";
  }
  return makeError(msg);
}

llvm::Error GraphImporter::defineInputs() {
  llvm::StringSet<> initNames;
  for (const auto &t : loaded.graph().initializer())
    initNames.insert(t.name());
  int argIndex = 0;
  for (const auto &in : loaded.graph().input()) {
    if (initNames.count(in.name()))
      continue; // an initializer listed as an input (IR version < 4)
    if (lookup(in.name()))
      return makeError("graph input '" + in.name() + "' is listed twice");
    if (!in.type().has_tensor_type())
      return makeError("graph input '" + in.name() +
                       "' is not a tensor (sequences and maps are not "
                       "supported)");
    const auto &tt = in.type().tensor_type();
    mlir::Type elem = elementTypeOf(&ctx, tt.elem_type());
    if (!elem)
      return makeError("graph input '" + in.name() +
                       "' has unsupported element type " +
                       dataTypeName(tt.elem_type()));
    if (!tt.has_shape())
      return makeError("graph input '" + in.name() +
                       "' has no shape; llmc needs the rank of every input");
    TensorInfo &info = define(in.name());
    info.source = TensorInfo::Source::Input;
    info.index = argIndex++;
    info.elemType = elem;
    int dimIndex = 0;
    for (const auto &d : tt.shape().dim()) {
      if (d.has_dim_value())
        info.dims.push_back(DimExpr::constant(d.dim_value()));
      else if (d.has_dim_param() && !d.dim_param().empty())
        info.dims.push_back(DimExpr::symbol(syms.intern(d.dim_param())));
      else
        info.dims.push_back(DimExpr::symbol(
            syms.fresh(in.name() + "_d" + std::to_string(dimIndex))));
      ++dimIndex;
    }
    argNames.push_back(in.name());
  }
  return llvm::Error::success();
}

llvm::Error GraphImporter::defineInitializers() {
  const auto &inits = loaded.graph().initializer();
  for (int i = 0; i < inits.size(); ++i) {
    const onnx::TensorProto &t = inits[i];
    if (lookup(t.name()))
      return makeError("initializer '" + t.name() +
                       "' has the name of another value");
    mlir::Type elem = elementTypeOf(&ctx, t.data_type());
    if (!elem)
      return makeError("initializer '" + t.name() +
                       "' has unsupported data type " +
                       dataTypeName(t.data_type()));
    TensorInfo &info = define(t.name());
    info.source = TensorInfo::Source::Initializer;
    info.index = i;
    info.elemType = elem;
    for (int64_t d : t.dims())
      info.dims.push_back(DimExpr::constant(d));
    const TensorLocation &loc = loaded.initializerLocation(size_t(i));
    std::optional<int64_t> n = info.staticNumElements();
    bool small = n && *n <= options.inlineConstantLimit;
    if (small || loc.kind == TensorLocation::Kind::Typed ||
        loc.kind == TensorLocation::Kind::Empty) {
      auto bytes = loaded.initializerBytes(size_t(i));
      if (!bytes)
        return bytes.takeError();
      setConstantValue(info, denseFromBytes(tensorTypeOf(info), *bytes));
    }
  }
  return llvm::Error::success();
}

static std::string describeValueInfo(const onnx::TypeProto_Tensor &tt) {
  std::string s = "[";
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto &d = tt.shape().dim(i);
    s += i ? ", " : "";
    s += d.has_dim_value() ? std::to_string(d.dim_value())
         : d.has_dim_param() ? d.dim_param()
                             : std::string("?");
  }
  return s + "] " + dataTypeName(tt.elem_type()).str();
}

llvm::Error GraphImporter::refineWithValueInfo(llvm::StringRef name,
                                               TensorInfo &info,
                                               const onnx::NodeProto &node) {
  if (!options.checkValueInfo)
    return llvm::Error::success();
  auto it = valueInfos.find(name);
  if (it == valueInfos.end() || !it->second->type().has_tensor_type())
    return llvm::Error::success();
  const auto &tt = it->second->type().tensor_type();
  auto mismatch = [&](const llvm::Twine &what) {
    std::string ours;
    llvm::raw_string_ostream os(ours);
    os << tensorTypeOf(info);
    return makeError("value '" + name + "' (output of node '" + node.name() +
                     "' (" + node.op_type() + ")): " + what +
                     ": the importer infers " + ours + ", the model says " +
                     describeValueInfo(tt));
  };
  if (tt.elem_type() != 0) {
    mlir::Type elem = elementTypeOf(&ctx, tt.elem_type());
    if (elem && elem != info.elemType)
      return mismatch("element type mismatch");
  }
  if (!tt.has_shape())
    return llvm::Error::success();
  if (tt.shape().dim_size() != info.rank())
    return mismatch("rank mismatch");
  for (int i = 0; i < tt.shape().dim_size(); ++i) {
    const auto &d = tt.shape().dim(i);
    if (!d.has_dim_value())
      continue;
    auto ours = info.dims[i].getConstant();
    if (!ours) {
      info.dims[i] = DimExpr::constant(d.dim_value()); // refine
      continue;
    }
    if (*ours != d.dim_value())
      return mismatch("dim " + llvm::Twine(i) + " mismatch");
  }
  return llvm::Error::success();
}

llvm::Error GraphImporter::inferNodes() {
  const OpRegistry &registry = OpRegistry::get();
  const auto &nodes = loaded.graph().node();
  consumedInputs.assign(size_t(nodes.size()), llvm::SmallBitVector());
  for (int n = 0; n < nodes.size(); ++n) {
    const onnx::NodeProto &node = nodes[n];
    const OpDef *def =
        registry.lookup(node.domain(), node.op_type(), nodeOpsets[n]);
    NodeContext nc(*this, node, nodeOpsets[n], consumedInputs[n]);
    for (const std::string &in : node.input())
      if (!in.empty() && !lookup(in))
        return nc.error("reads '" + in +
                        "', which is not a graph input, an initializer or "
                        "the output of an earlier node (the graph must be "
                        "topologically sorted)");
    for (const std::string &out : node.output()) {
      if (out.empty())
        continue;
      if (lookup(out))
        return nc.error("redefines value '" + out + "'");
      TensorInfo &info = define(out);
      info.source = TensorInfo::Source::Node;
      info.index = n;
    }
    if (llvm::Error err = def->infer(nc))
      return err;
    for (int o = 0; o < node.output_size(); ++o) {
      if (node.output(o).empty())
        continue;
      TensorInfo &info = nc.output(unsigned(o));
      if (!info.elemType)
        return nc.error("internal error: output " + llvm::Twine(o) +
                        " was not inferred");
      if (llvm::Error err = refineWithValueInfo(node.output(o), info, node))
        return err;
    }
  }
  for (const auto &out : loaded.graph().output())
    if (!lookup(out.name()))
      return makeError("graph output '" + out.name() +
                       "' is not produced by any node");
  return llvm::Error::success();
}

void GraphImporter::markNeeded() {
  const auto &nodes = loaded.graph().node();
  nodeNeeded.assign(size_t(nodes.size()), false);
  for (const auto &out : loaded.graph().output())
    lookup(out.name())->needed = true;
  for (int n = nodes.size() - 1; n >= 0; --n) {
    const onnx::NodeProto &node = nodes[n];
    bool needed = false;
    for (const std::string &out : node.output()) {
      if (out.empty())
        continue;
      TensorInfo *info = lookup(out);
      if (info->needed && !info->isConstant())
        needed = true;
    }
    if (!needed)
      continue;
    nodeNeeded[n] = true;
    for (int i = 0; i < node.input_size(); ++i)
      if (!node.input(i).empty() &&
          !(size_t(i) < consumedInputs[n].size() && consumedInputs[n].test(i)))
        lookup(node.input(i))->needed = true;
  }
}

mlir::Value GraphImporter::getConstant(mlir::Location loc,
                                       mlir::RankedTensorType type,
                                       mlir::DenseElementsAttr value) {
  mlir::Value &slot = constants[{type, value}];
  if (!slot)
    slot = b.create<llmc::ConstantOp>(loc, type, value);
  return slot;
}

llvm::Expected<TensorLocation>
GraphImporter::initializerLocation(const TensorInfo &info) {
  TensorLocation loc = loaded.initializerLocation(size_t(info.index));
  if (options.absoluteWeightPaths && !loc.file.empty()) {
    llvm::SmallString<256> file(loc.file);
    if (std::error_code ec = llvm::sys::fs::make_absolute(file))
      return makeError("cannot make '" + loc.file + "' absolute: " +
                       ec.message());
    llvm::sys::path::remove_dots(file, /*remove_dot_dot=*/true);
    loc.file = std::string(file);
  }
  return loc;
}

llvm::Expected<mlir::Attribute>
GraphImporter::initializerRef(const TensorInfo &info) {
  if (info.source != TensorInfo::Source::Initializer)
    return makeError("internal error: initializerRef of a non-initializer");
  const onnx::TensorProto &t = loaded.graph().initializer(info.index);
  auto loc = initializerLocation(info);
  if (!loc)
    return loc.takeError();
  if (loc->kind == TensorLocation::Kind::Inline ||
      loc->kind == TensorLocation::Kind::External)
    return mlir::Attribute(b.getDictionaryAttr({
        b.getNamedAttr("name", b.getStringAttr(t.name())),
        b.getNamedAttr("file", b.getStringAttr(loc->file)),
        b.getNamedAttr("offset", b.getI64IntegerAttr(int64_t(loc->offset))),
        b.getNamedAttr("length", b.getI64IntegerAttr(int64_t(loc->length))),
    }));
  auto bytes = loaded.initializerBytes(size_t(info.index));
  if (!bytes)
    return bytes.takeError();
  return mlir::Attribute(denseFromBytes(tensorTypeOf(info), *bytes));
}

llvm::Expected<mlir::Value>
GraphImporter::materializeInitializer(TensorInfo &info) {
  const onnx::TensorProto &t = loaded.graph().initializer(info.index);
  const TensorLocation &loc = loaded.initializerLocation(size_t(info.index));
  llvm::SmallString<256> file(loc.file);
  if (options.absoluteWeightPaths) {
    if (std::error_code ec = llvm::sys::fs::make_absolute(file))
      return makeError("cannot make '" + loc.file + "' absolute: " +
                       ec.message());
    llvm::sys::path::remove_dots(file, /*remove_dot_dot=*/true);
  }
  auto type = tensorTypeOf(info);
  mlir::Location l =
      mlir::NameLoc::get(mlir::StringAttr::get(&ctx, t.name()), fileLoc);
  return b
      .create<llmc::WeightOp>(l, type, b.getStringAttr(t.name()),
                              b.getStringAttr(file),
                              b.getI64IntegerAttr(int64_t(loc.offset)),
                              b.getI64IntegerAttr(int64_t(loc.length)))
      .getResult();
}

llvm::Expected<mlir::Value> GraphImporter::materialize(llvm::StringRef name,
                                                       TensorInfo &info) {
  if (info.value)
    return info.value;
  if (!info.constant && info.isConstant())
    setContentValue(info, *info.content);
  if (info.constant) {
    auto type = tensorTypeOf(info);
    if (type.hasStaticShape() && type == info.constant.getType()) {
      mlir::Location l =
          mlir::NameLoc::get(mlir::StringAttr::get(&ctx, name), fileLoc);
      info.value = getConstant(l, type, info.constant);
      return info.value;
    }
  }
  switch (info.source) {
  case TensorInfo::Source::Input:
    break; // set when the function is created
  case TensorInfo::Source::Initializer: {
    auto v = materializeInitializer(info);
    if (!v)
      return v.takeError();
    info.value = *v;
    return info.value;
  }
  case TensorInfo::Source::Node:
    break;
  }
  return makeError("internal error: value '" + name +
                   "' is used before it is emitted");
}

llvm::Error GraphImporter::emit() {
  const OpRegistry &registry = OpRegistry::get();
  const auto &nodes = loaded.graph().node();
  for (int n = 0; n < nodes.size(); ++n) {
    if (!nodeNeeded[n])
      continue;
    const onnx::NodeProto &node = nodes[n];
    const OpDef *def =
        registry.lookup(node.domain(), node.op_type(), nodeOpsets[n]);
    NodeContext nc(*this, node, nodeOpsets[n], consumedInputs[n]);
    if (llvm::Error err = def->emit(nc))
      return err;
    for (int o = 0; o < node.output_size(); ++o) {
      if (node.output(o).empty())
        continue;
      TensorInfo &info = nc.output(unsigned(o));
      if (info.needed && !info.value && !info.isConstant())
        return nc.error("internal error: output " + llvm::Twine(o) +
                        " was not emitted");
      if (info.value && info.value.getType() != tensorTypeOf(info)) {
        std::string got, want;
        llvm::raw_string_ostream(got) << info.value.getType();
        llvm::raw_string_ostream(want) << tensorTypeOf(info);
        return nc.error("internal error: emitted " + got + " for output " +
                        llvm::Twine(o) + ", inferred " + want);
      }
    }
  }
  return llvm::Error::success();
}

static mlir::ArrayAttr dimsAttr(mlir::Builder &b,
                                const onnx::TypeProto &type) {
  llvm::SmallVector<mlir::Attribute> dims;
  if (!type.has_tensor_type() || !type.tensor_type().has_shape())
    return {};
  bool anyDynamic = false;
  for (const auto &d : type.tensor_type().shape().dim()) {
    if (d.has_dim_value()) {
      dims.push_back(b.getI64IntegerAttr(d.dim_value()));
    } else {
      anyDynamic = true;
      dims.push_back(b.getStringAttr(
          d.has_dim_param() && !d.dim_param().empty() ? d.dim_param() : "?"));
    }
  }
  return anyDynamic ? b.getArrayAttr(dims) : mlir::ArrayAttr();
}

llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>> GraphImporter::run() {
  ctx.getOrLoadDialect<llmc::LLMCDialect>();
  ctx.getOrLoadDialect<mlir::func::FuncDialect>();

  rewriteQuantizedPatterns(loaded);
  if (llvm::Error err = checkSupportedOps())
    return err;
  for (const auto &vi : loaded.graph().value_info())
    valueInfos[vi.name()] = &vi;
  for (const auto &vi : loaded.graph().output())
    valueInfos[vi.name()] = &vi;
  for (const auto &node : loaded.graph().node())
    for (const std::string &in : node.input())
      usedNames.insert(in);
  for (const auto &out : loaded.graph().output())
    usedNames.insert(out.name());

  if (llvm::Error err = defineInputs())
    return err;
  if (llvm::Error err = defineInitializers())
    return err;
  if (llvm::Error err = inferNodes())
    return err;
  markNeeded();

  // The function signature.
  module = mlir::ModuleOp::create(fileLoc);
  auto *modOp = module->getOperation();
  modOp->setAttr("llmc.source", b.getStringAttr(loaded.path()));
  modOp->setAttr("llmc.onnx_opset",
                 b.getI64IntegerAttr(*loaded.opsetVersion("")));
  if (!loaded.model().producer_name().empty())
    modOp->setAttr(
        "llmc.onnx_producer",
        b.getStringAttr(llvm::StringRef(loaded.model().producer_name() + " " +
                                        loaded.model().producer_version())
                            .rtrim()));

  llvm::SmallVector<mlir::Type> argTypes, resultTypes;
  for (const std::string &name : argNames)
    argTypes.push_back(tensorTypeOf(*lookup(name)));
  for (const auto &out : loaded.graph().output())
    resultTypes.push_back(tensorTypeOf(*lookup(out.name())));
  b.setInsertionPointToEnd(module->getBody());
  auto func = b.create<mlir::func::FuncOp>(
      fileLoc, options.funcName, b.getFunctionType(argTypes, resultTypes));

  llvm::StringMap<const onnx::ValueInfoProto *> inputInfos;
  for (const auto &in : loaded.graph().input())
    inputInfos[in.name()] = &in;
  for (size_t i = 0; i < argNames.size(); ++i) {
    func.setArgAttr(unsigned(i), "llmc.onnx_name",
                    b.getStringAttr(argNames[i]));
    if (auto dims = dimsAttr(b, inputInfos[argNames[i]]->type()))
      func.setArgAttr(unsigned(i), "llmc.dims", dims);
  }
  for (int i = 0; i < loaded.graph().output_size(); ++i) {
    const auto &out = loaded.graph().output(i);
    func.setResultAttr(unsigned(i), "llmc.onnx_name",
                       b.getStringAttr(out.name()));
    if (auto dims = dimsAttr(b, out.type()))
      func.setResultAttr(unsigned(i), "llmc.dims", dims);
  }

  mlir::Block *entry = func.addEntryBlock();
  for (size_t i = 0; i < argNames.size(); ++i)
    lookup(argNames[i])->value = entry->getArgument(unsigned(i));
  b.setInsertionPointToEnd(entry);

  if (llvm::Error err = emit())
    return err;
  llvm::SmallVector<mlir::Value> results;
  for (const auto &out : loaded.graph().output()) {
    auto v = materialize(out.name(), *lookup(out.name()));
    if (!v)
      return v.takeError();
    results.push_back(*v);
  }
  b.create<mlir::func::ReturnOp>(fileLoc, results);

  // The module must verify; report the verifier's words if it does not.
  std::string diagnostics;
  {
    mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic &d) {
      llvm::raw_string_ostream os(diagnostics);
      os << "\n  " << d.getLocation() << ": " << d.str();
      return mlir::success();
    });
    if (mlir::failed(mlir::verify(*module)))
      return makeError("internal error: the imported IR does not verify:" +
                       diagnostics);
  }
  return std::move(module);
}
