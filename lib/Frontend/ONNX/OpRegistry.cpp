//===- OpRegistry.cpp - ONNX operator importers ---------------------------===//

#include "OpRegistry.h"

#include "llmc/Frontend/ONNXImporter.h"

#include <algorithm>
#include <set>
#include <string>

using namespace llmc::onnx_import;

static bool isDefaultDomain(llvm::StringRef d) {
  return d.empty() || d == "ai.onnx";
}

const OpDef *OpRegistry::lookup(llvm::StringRef domain, llvm::StringRef opType,
                                int64_t version) const {
  for (const OpDef &d : defs) {
    bool domainMatches = isDefaultDomain(domain) ? isDefaultDomain(d.domain)
                                                 : d.domain == domain;
    if (domainMatches && d.opType == opType && version >= d.minVersion &&
        version <= d.maxVersion)
      return &d;
  }
  return nullptr;
}

const OpRegistry &OpRegistry::get() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    registerElementwiseOps(r);
    registerShapeOps(r);
    registerTensorOps(r);
    registerNNOps(r);
    registerQuantizedOps(r);
    registerAttentionOps(r);
    registerMoEOps(r);
    registerControlFlowOps(r);
    return r;
  }();
  return registry;
}

std::vector<std::string> llmc::supportedONNXOps() {
  std::set<std::string> names;
  for (const OpDef &d : OpRegistry::get().all())
    if (d.domain != "llmc.internal") // the importer's own rewritten nodes
      names.insert((d.domain + ":" + d.opType).str());
  return {names.begin(), names.end()};
}
