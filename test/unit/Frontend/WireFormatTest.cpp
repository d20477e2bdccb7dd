//===- WireFormatTest.cpp - Initializer raw_data offsets ------------------===//

#include "WireFormat.h"

#include "TestModels.h"

using namespace llmc::onnx_import;
using namespace llmc::test;

namespace {

TEST(WireFormat, FindsEveryRawDataPayload) {
  onnx::ModelProto m = matmulModel();
  // A typed-field initializer has no raw_data.
  onnx::TensorProto *typed = m.mutable_graph()->add_initializer();
  typed->set_name("typed");
  typed->set_data_type(onnx::TensorProto::INT64);
  typed->add_dims(2);
  typed->add_int64_data(3);
  typed->add_int64_data(4);
  std::string bytes = m.SerializeAsString();

  auto found = findInitializerRawData(bytes);
  ASSERT_TRUE(bool(found)) << llvm::toString(found.takeError());
  ASSERT_EQ(found->size(), 3u);
  for (int i = 0; i < 2; ++i) {
    const onnx::TensorProto &t = m.graph().initializer(i);
    const InitializerBytes &b = (*found)[i];
    EXPECT_EQ(b.name, t.name());
    ASSERT_TRUE(b.rawDataOffset.has_value());
    EXPECT_EQ(b.rawDataLength, t.raw_data().size());
    // The payload in the serialized bytes is the tensor's data.
    EXPECT_EQ(bytes.substr(*b.rawDataOffset, b.rawDataLength), t.raw_data());
  }
  EXPECT_EQ((*found)[2].name, "typed");
  EXPECT_FALSE((*found)[2].rawDataOffset.has_value());
}

TEST(WireFormat, FieldOrderDoesNotMatter) {
  // Put the graph before the model's other fields (protobuf allows any
  // field order): the walk must not depend on the usual order.
  onnx::ModelProto m = matmulModel();
  std::string graph = m.graph().SerializeAsString();
  onnx::ModelProto rest = m;
  rest.clear_graph();
  // Field 7 (graph), length-delimited, written by hand before the rest.
  std::string bytes;
  bytes.push_back(char((7 << 3) | 2));
  size_t len = graph.size();
  while (len >= 0x80) {
    bytes.push_back(char((len & 0x7f) | 0x80));
    len >>= 7;
  }
  bytes.push_back(char(len));
  bytes += graph + rest.SerializeAsString();

  auto found = findInitializerRawData(bytes);
  ASSERT_TRUE(bool(found)) << llvm::toString(found.takeError());
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ(bytes.substr(*(*found)[1].rawDataOffset, (*found)[1].rawDataLength),
            m.graph().initializer(1).raw_data());
}

TEST(WireFormat, NoGraphMeansNoInitializers) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto found = findInitializerRawData(m.SerializeAsString());
  ASSERT_TRUE(bool(found));
  EXPECT_TRUE(found->empty());
}

TEST(WireFormat, RejectsTruncatedData) {
  std::string bytes = matmulModel().SerializeAsString();
  for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t(3)}) {
    auto found = findInitializerRawData(llvm::StringRef(bytes).take_front(cut));
    ASSERT_FALSE(bool(found)) << "cut at " << cut;
    EXPECT_NE(llvm::toString(found.takeError()).find("malformed protobuf"),
              std::string::npos);
  }
}

TEST(WireFormat, RejectsGarbage) {
  auto found = findInitializerRawData("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff");
  ASSERT_FALSE(bool(found));
  llvm::consumeError(found.takeError());
}

} // namespace
