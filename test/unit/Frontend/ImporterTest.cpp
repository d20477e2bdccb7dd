//===- ImporterTest.cpp - The public importONNX API -----------------------===//

#include "llmc/Frontend/ONNXImporter.h"

#include "TestModels.h"

#include "llmc/LLMCOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"

using namespace llmc::test;

namespace {

TEST(Importer, WeightsAreReferencesIntoTheFile) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  dir.write("w.bin", externalize(proto, 1, "w.bin", 32));
  std::string path = dir.writeModel("m.onnx", proto);
  mlir::MLIRContext ctx;
  // By default these tiny initializers would be llmc.constant.
  llmc::ImportOptions options;
  options.inlineConstantLimit = 0;
  auto module = llmc::importONNX(ctx, path, options);
  ASSERT_TRUE(bool(module)) << llvm::toString(module.takeError());

  std::vector<llmc::WeightOp> weights;
  (*module)->walk([&](llmc::WeightOp w) { weights.push_back(w); });
  ASSERT_EQ(weights.size(), 2u);
  EXPECT_EQ(weights[0].getName(), "W0");
  EXPECT_TRUE(llvm::StringRef(weights[0].getFile()).ends_with("m.onnx"));
  EXPECT_EQ(weights[0].getLength(), 64u);
  // The inline offset points at the raw_data payload inside m.onnx.
  std::string bytes = proto.SerializeAsString();
  EXPECT_EQ(bytes.substr(weights[0].getOffset(), 64),
            proto.graph().initializer(0).raw_data());
  EXPECT_EQ(weights[1].getName(), "W1");
  EXPECT_TRUE(llvm::StringRef(weights[1].getFile()).ends_with("w.bin"));
  EXPECT_EQ(weights[1].getOffset(), 32u);

  auto func = *(*module)->getOps<mlir::func::FuncOp>().begin();
  EXPECT_EQ(func.getName(), "main");
  EXPECT_EQ(func.getFunctionType().getNumInputs(), 1u);
  auto arg = llvm::cast<mlir::RankedTensorType>(func.getArgumentTypes()[0]);
  EXPECT_TRUE(arg.isDynamicDim(0));
  EXPECT_EQ(arg.getDimSize(1), 4);
}

TEST(Importer, TinyInitializersAreConstants) {
  TempDir dir;
  mlir::MLIRContext ctx;
  auto module = llmc::importONNX(ctx, dir.writeModel("m.onnx", matmulModel()));
  ASSERT_TRUE(bool(module)) << llvm::toString(module.takeError());
  int weights = 0, constants = 0;
  (*module)->walk([&](llmc::WeightOp) { ++weights; });
  (*module)->walk([&](llmc::ConstantOp) { ++constants; });
  EXPECT_EQ(weights, 0);
  EXPECT_EQ(constants, 2);
}

TEST(Importer, ErrorsNameTheFile) {
  TempDir dir;
  std::string path = dir.write("broken.onnx", "not a model");
  mlir::MLIRContext ctx;
  auto module = llmc::importONNX(ctx, path);
  ASSERT_FALSE(bool(module));
  std::string err = llvm::toString(module.takeError());
  EXPECT_EQ(err.rfind(path + ": ", 0), 0u) << err;
}

TEST(Importer, EveryUnsupportedOperatorIsListed) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  auto *g = proto.mutable_graph();
  for (const char *name : {"a", "b"}) {
    auto *n = g->add_node();
    n->set_op_type("NonZero");
    n->set_name(name);
    n->add_input("y");
    n->add_output(std::string("nz_") + name);
  }
  auto *custom = g->add_node();
  custom->set_op_type("Custom");
  custom->set_domain("com.vendor");
  custom->set_name("c");
  custom->add_input("y");
  custom->add_output("cc");
  mlir::MLIRContext ctx;
  auto module = llmc::importONNX(ctx, dir.writeModel("m.onnx", proto));
  ASSERT_FALSE(bool(module));
  std::string err = llvm::toString(module.takeError());
  EXPECT_NE(err.find("unsupported ONNX operators (2 types, 3 nodes):\n"
                     "  NonZero (domain 'ai.onnx', opset 17): nodes 'a', 'b'\n"
                     "  Custom (domain 'com.vendor', not in opset_import): "
                     "node 'c'"),
            std::string::npos)
      << err;
}

TEST(Importer, SupportedOpsAreListed) {
  std::vector<std::string> ops = llmc::supportedONNXOps();
  EXPECT_NE(std::find(ops.begin(), ops.end(), ":MatMul"), ops.end());
  EXPECT_NE(std::find(ops.begin(), ops.end(), ":LayerNormalization"), ops.end());
}

} // namespace
