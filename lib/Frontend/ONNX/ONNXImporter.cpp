//===- ONNXImporter.cpp - Public entry point of the ONNX importer ---------===//

#include "llmc/Frontend/ONNXImporter.h"

#include "GraphImporter.h"
#include "ModelLoader.h"

using namespace llmc::onnx_import;

llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
llmc::importONNX(mlir::MLIRContext &ctx, llvm::StringRef path,
                 const ImportOptions &options) {
  auto withFile = [&](llvm::Error err) {
    std::string msg = llvm::toString(std::move(err));
    return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                   (path + ": " + msg).str());
  };
  auto model = LoadedModel::load(path);
  if (!model)
    return withFile(model.takeError());
  GraphImporter importer(ctx, **model, options);
  auto module = importer.run();
  if (!module)
    return withFile(module.takeError());
  return std::move(*module);
}
