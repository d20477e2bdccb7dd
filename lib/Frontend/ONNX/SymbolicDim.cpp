//===- SymbolicDim.cpp - Symbolic tensor dimensions -----------------------===//

#include "SymbolicDim.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>

using namespace llmc::onnx_import;

unsigned SymbolTable::intern(llvm::StringRef name) {
  auto [it, inserted] = ids.try_emplace(name, names.size());
  if (inserted) {
    names.push_back(name.str());
    freshIds.push_back(false);
  }
  return it->second;
}

unsigned SymbolTable::fresh(llvm::StringRef hint) {
  std::string name;
  do {
    name = (llvm::Twine(hint) + "#" + llvm::Twine(nextFresh++)).str();
  } while (ids.count(name));
  unsigned id = intern(name);
  freshIds[id] = true;
  return id;
}

DimExpr DimExpr::constant(int64_t c) {
  DimExpr e;
  if (c != 0)
    e.terms[{}] = c;
  return e;
}

DimExpr DimExpr::symbol(unsigned id) {
  DimExpr e;
  e.terms[{id}] = 1;
  return e;
}

bool DimExpr::isConstant() const {
  return terms.empty() || (terms.size() == 1 && terms.begin()->first.empty());
}

std::optional<int64_t> DimExpr::getConstant() const {
  if (terms.empty())
    return 0;
  if (terms.size() == 1 && terms.begin()->first.empty())
    return terms.begin()->second;
  return std::nullopt;
}

std::optional<unsigned> DimExpr::getSymbol() const {
  if (terms.size() == 1 && terms.begin()->first.size() == 1 &&
      terms.begin()->second == 1)
    return terms.begin()->first.front();
  return std::nullopt;
}

bool DimExpr::isNonNegative() const {
  return std::all_of(terms.begin(), terms.end(),
                     [](const auto &t) { return t.second > 0; });
}

namespace llmc::onnx_import {

std::optional<DimExpr> add(const DimExpr &a, const DimExpr &b) {
  DimExpr r = a;
  for (const auto &[mono, coeff] : b.terms) {
    int64_t &slot = r.terms[mono];
    int64_t sum;
    if (llvm::AddOverflow(slot, coeff, sum))
      return std::nullopt;
    slot = sum;
    if (slot == 0)
      r.terms.erase(mono);
  }
  return r;
}

std::optional<DimExpr> sub(const DimExpr &a, const DimExpr &b) {
  auto negB = mul(b, DimExpr::constant(-1));
  if (!negB)
    return std::nullopt;
  return add(a, *negB);
}

std::optional<DimExpr> mul(const DimExpr &a, const DimExpr &b) {
  DimExpr r;
  for (const auto &[ma, ca] : a.terms) {
    for (const auto &[mb, cb] : b.terms) {
      DimExpr::Monomial m;
      std::merge(ma.begin(), ma.end(), mb.begin(), mb.end(),
                 std::back_inserter(m));
      int64_t c;
      if (llvm::MulOverflow(ca, cb, c))
        return std::nullopt;
      DimExpr term;
      term.terms[m] = c;
      auto sum = add(r, term);
      if (!sum)
        return std::nullopt;
      r = std::move(*sum);
    }
  }
  return r;
}

std::optional<DimExpr> div(const DimExpr &a, const DimExpr &b) {
  if (b.terms.empty())
    return std::nullopt; // division by zero
  if (auto ca = a.getConstant()) {
    if (auto cb = b.getConstant()) {
      if (*ca == INT64_MIN && *cb == -1)
        return std::nullopt;
      return DimExpr::constant(*ca / *cb);
    }
  }
  if (b.terms.size() != 1)
    return std::nullopt;
  const auto &[mb, cb] = *b.terms.begin();
  DimExpr r;
  for (const auto &[ma, ca] : a.terms) {
    if (ca % cb != 0 || !std::includes(ma.begin(), ma.end(), mb.begin(), mb.end()))
      return std::nullopt;
    DimExpr::Monomial m;
    std::set_difference(ma.begin(), ma.end(), mb.begin(), mb.end(),
                        std::back_inserter(m));
    r.terms[m] = ca / cb;
  }
  return r;
}

std::optional<DimExpr> product(llvm::ArrayRef<DimExpr> dims) {
  DimExpr r = DimExpr::constant(1);
  for (const DimExpr &d : dims) {
    auto p = mul(r, d);
    if (!p)
      return std::nullopt;
    r = std::move(*p);
  }
  return r;
}

} // namespace llmc::onnx_import

std::string DimExpr::str(const SymbolTable &symbols) const {
  if (terms.empty())
    return "0";
  std::string s;
  llvm::raw_string_ostream os(s);
  bool first = true;
  // Print symbolic terms first, the constant last: "p + s + 1".
  auto printTerm = [&](const Monomial &m, int64_t c) {
    if (!first)
      os << (c < 0 ? " - " : " + ");
    else if (c < 0)
      os << "-";
    first = false;
    int64_t mag = c < 0 ? -c : c;
    if (m.empty()) {
      os << mag;
      return;
    }
    if (mag != 1)
      os << mag << "*";
    for (size_t i = 0; i < m.size(); ++i)
      os << (i ? "*" : "") << symbols.name(m[i]);
  };
  for (const auto &[m, c] : terms)
    if (!m.empty())
      printTerm(m, c);
  if (auto it = terms.find({}); it != terms.end())
    printTerm(it->first, it->second);
  return s;
}
