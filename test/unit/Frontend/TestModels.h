//===- TestModels.h - Build small ONNX models in C++ for unit tests -------===//
#ifndef LLMC_TEST_UNIT_FRONTEND_TESTMODELS_H
#define LLMC_TEST_UNIT_FRONTEND_TESTMODELS_H

#include <onnx/onnx_pb.h>

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace llmc::test {

/// A float initializer [rows, cols] whose values are start, start+1, ...
inline onnx::TensorProto floatTensor(const std::string &name, int64_t rows,
                                     int64_t cols, float start = 0) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT);
  t.add_dims(rows);
  t.add_dims(cols);
  std::vector<float> v(size_t(rows * cols));
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = start + float(i);
  t.set_raw_data(std::string(reinterpret_cast<const char *>(v.data()),
                             v.size() * sizeof(float)));
  return t;
}

inline void addValueInfo(onnx::ValueInfoProto *vi, const std::string &name,
                         std::vector<std::string> dims) {
  vi->set_name(name);
  auto *tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (const std::string &d : dims) {
    auto *dim = tt->mutable_shape()->add_dim();
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      dim->set_dim_value(std::stoll(d));
    else
      dim->set_dim_param(d);
  }
}

/// y = x @ W0 @ W1 with x [n, 4], W0 [4, 4], W1 [4, 2].
inline onnx::ModelProto matmulModel(int64_t opset = 17) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.set_producer_name("unit-test");
  auto *op = m.add_opset_import();
  op->set_domain("");
  op->set_version(opset);
  auto *g = m.mutable_graph();
  g->set_name("g");
  *g->add_initializer() = floatTensor("W0", 4, 4, 1);
  *g->add_initializer() = floatTensor("W1", 4, 2, 100);
  auto *n0 = g->add_node();
  n0->set_op_type("MatMul");
  n0->set_name("mm0");
  n0->add_input("x");
  n0->add_input("W0");
  n0->add_output("h");
  auto *n1 = g->add_node();
  n1->set_op_type("MatMul");
  n1->set_name("mm1");
  n1->add_input("h");
  n1->add_input("W1");
  n1->add_output("y");
  addValueInfo(g->add_input(), "x", {"n", "4"});
  addValueInfo(g->add_output(), "y", {"n", "2"});
  return m;
}

/// A scratch directory removed at the end of the test.
class TempDir {
public:
  TempDir() {
    EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("llmc-frontend", dir));
  }
  ~TempDir() { llvm::sys::fs::remove_directories(dir); }
  std::string path(llvm::StringRef name) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }
  std::string write(llvm::StringRef name, llvm::StringRef bytes) const {
    std::string p = path(name);
    std::error_code ec;
    llvm::raw_fd_ostream os(p, ec, llvm::sys::fs::OF_None);
    EXPECT_FALSE(ec);
    os << bytes;
    return p;
  }
  std::string writeModel(llvm::StringRef name, const onnx::ModelProto &m) const {
    return write(name, m.SerializeAsString());
  }

private:
  llvm::SmallString<256> dir;
};

/// Move initializer `index` of `m` to external data: `file` gets `pad`
/// bytes, then the tensor's bytes; the tensor records offset/length.
inline std::string externalize(onnx::ModelProto &m, int index,
                               const std::string &location, size_t pad,
                               bool withLength = true) {
  onnx::TensorProto *t = m.mutable_graph()->mutable_initializer(index);
  std::string data = std::string(pad, '\0') + t->raw_data();
  auto add = [&](const std::string &k, const std::string &v) {
    auto *e = t->add_external_data();
    e->set_key(k);
    e->set_value(v);
  };
  add("location", location);
  add("offset", std::to_string(pad));
  if (withLength)
    add("length", std::to_string(t->raw_data().size()));
  t->clear_raw_data();
  t->set_data_location(onnx::TensorProto::EXTERNAL);
  return data;
}

} // namespace llmc::test

#endif // LLMC_TEST_UNIT_FRONTEND_TESTMODELS_H
