//===- ModelLoaderTest.cpp - Parsing, opsets, external data validation ----===//

#include "ModelLoader.h"

#include "TestModels.h"

using namespace llmc::onnx_import;
using namespace llmc::test;

namespace {

std::string loadError(const std::string &path) {
  auto m = LoadedModel::load(path);
  if (m)
    return "(loaded)";
  return llvm::toString(m.takeError());
}

bool contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

TEST(ModelLoader, InlineWeightsAreLocatedInTheModelFile) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  std::string path = dir.writeModel("m.onnx", proto);
  auto m = LoadedModel::load(path);
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  for (int i = 0; i < 2; ++i) {
    const TensorLocation &loc = (*m)->initializerLocation(size_t(i));
    EXPECT_EQ(loc.kind, TensorLocation::Kind::Inline);
    EXPECT_EQ(loc.file, path);
    EXPECT_EQ(loc.length, proto.graph().initializer(i).raw_data().size());
    auto bytes = (*m)->initializerBytes(size_t(i));
    ASSERT_TRUE(bool(bytes));
    EXPECT_EQ(bytes->str(), proto.graph().initializer(i).raw_data());
  }
  EXPECT_EQ((*m)->opsetVersion(""), 17);
  EXPECT_EQ((*m)->opsetVersion("ai.onnx"), 17);
  EXPECT_FALSE((*m)->opsetVersion("com.microsoft").has_value());
}

TEST(ModelLoader, ExternalDataIsValidatedAndLocated) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  std::string expected = proto.graph().initializer(1).raw_data();
  dir.write("w.bin", externalize(proto, 1, "w.bin", 16));
  auto m = LoadedModel::load(dir.writeModel("m.onnx", proto));
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  const TensorLocation &loc = (*m)->initializerLocation(1);
  EXPECT_EQ(loc.kind, TensorLocation::Kind::External);
  EXPECT_EQ(loc.file, dir.path("w.bin"));
  EXPECT_EQ(loc.offset, 16u);
  EXPECT_EQ(loc.length, 32u);
  auto bytes = (*m)->initializerBytes(1);
  ASSERT_TRUE(bool(bytes));
  EXPECT_EQ(bytes->str(), expected);
}

TEST(ModelLoader, ExternalDataWithoutLengthUsesTheShape) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  dir.write("w.bin", externalize(proto, 0, "w.bin", 0, /*withLength=*/false));
  auto m = LoadedModel::load(dir.writeModel("m.onnx", proto));
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  EXPECT_EQ((*m)->initializerLocation(0).length, 64u);
}

TEST(ModelLoader, MissingExternalFile) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  externalize(proto, 1, "absent.bin", 0); // the data file is not written
  std::string err = loadError(dir.writeModel("m.onnx", proto));
  EXPECT_TRUE(contains(err, "initializer 'W1': its external data file "
                            "'absent.bin' is missing"))
      << err;
}

TEST(ModelLoader, ExternalDataBeyondTheEndOfTheFile) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  std::string data = externalize(proto, 1, "w.bin", 8);
  dir.write("w.bin", llvm::StringRef(data).drop_back(4));
  std::string err = loadError(dir.writeModel("m.onnx", proto));
  EXPECT_TRUE(contains(err, "initializer 'W1': external data bytes [8, 40) "
                            "lie beyond the end of 'w.bin' (36 bytes)"))
      << err;
}

TEST(ModelLoader, ExternalLengthMustMatchTheShape) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  dir.write("w.bin", externalize(proto, 1, "w.bin", 0));
  auto *t = proto.mutable_graph()->mutable_initializer(1);
  for (auto &kv : *t->mutable_external_data())
    if (kv.key() == "length")
      kv.set_value("28");
  std::string err = loadError(dir.writeModel("m.onnx", proto));
  EXPECT_TRUE(contains(err, "initializer 'W1' has an external data length of "
                            "28 bytes but its shape [4, 2] FLOAT needs 32 bytes"))
      << err;
}

TEST(ModelLoader, RawDataSizeMustMatchTheShape) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  proto.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(60);
  std::string err = loadError(dir.writeModel("m.onnx", proto));
  EXPECT_TRUE(contains(err, "initializer 'W0' has 60 bytes of raw_data but its "
                            "shape [4, 4] FLOAT needs 64 bytes"))
      << err;
}

TEST(ModelLoader, TypedFieldsAreCountedAndRead) {
  TempDir dir;
  onnx::ModelProto proto = matmulModel();
  auto *t = proto.mutable_graph()->mutable_initializer(1);
  t->clear_raw_data();
  for (int i = 0; i < 8; ++i)
    t->add_float_data(float(i) * 0.5f);
  auto m = LoadedModel::load(dir.writeModel("ok.onnx", proto));
  ASSERT_TRUE(bool(m)) << llvm::toString(m.takeError());
  EXPECT_EQ((*m)->initializerLocation(1).kind, TensorLocation::Kind::Typed);
  auto bytes = (*m)->initializerBytes(1);
  ASSERT_TRUE(bool(bytes));
  ASSERT_EQ(bytes->size(), 32u);
  float third;
  std::memcpy(&third, bytes->data() + 8, 4);
  EXPECT_EQ(third, 1.0f);

  t->add_float_data(9.0f);
  std::string err = loadError(dir.writeModel("bad.onnx", proto));
  EXPECT_TRUE(contains(err, "tensor 'W1' has 9 values in float_data but its "
                            "shape [4, 2] FLOAT needs 8"))
      << err;
}

TEST(ModelLoader, Opsets) {
  TempDir dir;
  EXPECT_TRUE(contains(loadError(dir.writeModel("12.onnx", matmulModel(12))),
                       "unsupported ONNX opset 12: llmc imports opsets 13 to 21"));
  EXPECT_TRUE(contains(loadError(dir.writeModel("22.onnx", matmulModel(22))),
                       "unsupported ONNX opset 22"));
  EXPECT_EQ(loadError(dir.writeModel("13.onnx", matmulModel(13))), "(loaded)");
  EXPECT_EQ(loadError(dir.writeModel("21.onnx", matmulModel(21))), "(loaded)");
  onnx::ModelProto none = matmulModel();
  none.clear_opset_import();
  EXPECT_TRUE(contains(loadError(dir.writeModel("none.onnx", none)),
                       "imports no opset of the default domain"));
}

TEST(ModelLoader, MalformedFiles) {
  TempDir dir;
  EXPECT_TRUE(contains(loadError(dir.path("absent.onnx")), "no such file"));
  EXPECT_TRUE(contains(loadError(dir.write("empty.onnx", "")), "empty"));
  EXPECT_TRUE(contains(loadError(dir.write("text.onnx", "hello, world\n")),
                       "malformed or truncated"));
  std::string bytes = matmulModel().SerializeAsString();
  EXPECT_TRUE(contains(loadError(dir.write("cut.onnx", llvm::StringRef(bytes).drop_back(7))),
                       "malformed or truncated"));
  onnx::ModelProto noGraph;
  noGraph.set_ir_version(8);
  EXPECT_TRUE(contains(loadError(dir.writeModel("nograph.onnx", noGraph)),
                       "it has no graph"));
}

} // namespace
