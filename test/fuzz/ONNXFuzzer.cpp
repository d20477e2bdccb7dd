//===- ONNXFuzzer.cpp - libFuzzer target for the ONNX importer -------------===//
//
// The input is a .onnx file. It must either import into a module that
// verifies, or fail with an llvm::Error; never crash, hang or read out of
// bounds (the importer's sources are compiled into this target with
// AddressSanitizer). Covers the whole path llmc compile takes first: the
// protobuf parse, the wire-format walk that locates raw_data, initializer
// validation, and the graph import with its symbolic shape evaluation.
//
// The importer reads files (it maps the model and resolves external data
// beside it), so each input is written to a file of this process's own.
//
//===----------------------------------------------------------------------===//

#include "llmc/Frontend/ONNXImporter.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {

/// A model path private to this process, removed at exit.
const std::string &modelPath() {
  static const std::string path = [] {
    llvm::SmallString<128> p;
    if (llvm::sys::fs::createTemporaryFile("llmc-fuzz-onnx", "onnx", p))
      std::abort();
    std::string s(p.str());
    static std::string toRemove = s;
    std::atexit([] { llvm::sys::fs::remove(toRemove); });
    return s;
  }();
  return path;
}

mlir::MLIRContext &context() {
  static mlir::MLIRContext *ctx = [] {
    // One context for the whole run (the importer loads its dialects);
    // creating one per input would dominate the time.
    auto *c = new mlir::MLIRContext();
    c->printOpOnDiagnostic(false);
    return c;
  }();
  return *ctx;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  {
    std::error_code ec;
    llvm::raw_fd_ostream out(modelPath(), ec);
    if (ec)
      std::abort();
    out.write(reinterpret_cast<const char *>(data), size);
  }
  auto module = llmc::importONNX(context(), modelPath());
  if (!module) {
    llvm::consumeError(module.takeError());
    return 0;
  }
  // An imported module must be well formed: the importer's checks, not the
  // verifier, are what reject bad models.
  if (mlir::failed(mlir::verify(module->get())))
    std::abort();
  return 0;
}
