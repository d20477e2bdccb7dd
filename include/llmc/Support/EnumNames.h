//===- EnumNames.h - One table for an enum's names, both ways ---*- C++ -*-===//
//
// The spellings of an enum in flags, manifests and plans, written once: the
// name of a value and the value of a name both read the same table, so a new
// enumerator cannot be printable and not parseable (or the other way round).
//
//   constexpr EnumName<KvType> kKvTypeNames[] = {{KvType::F32, "f32"}, ...};
//   enumName(kKvTypeNames, t);  parseEnumName(kKvTypeNames, "f16");
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_SUPPORT_ENUMNAMES_H
#define LLMC_SUPPORT_ENUMNAMES_H

#include "llvm/ADT/StringRef.h"
#include <cstddef>
#include <optional>

namespace llmc {

template <typename E> struct EnumName {
  E value;
  const char *name;
};

/// The name of `v`; "?" for a value the table lacks (an out-of-range cast).
template <typename E, std::size_t N>
llvm::StringRef enumName(const EnumName<E> (&table)[N], E v) {
  for (const EnumName<E> &e : table)
    if (e.value == v)
      return e.name;
  return "?";
}

/// The value named `name` exactly; nullopt for any other text.
template <typename E, std::size_t N>
std::optional<E> parseEnumName(const EnumName<E> (&table)[N],
                               llvm::StringRef name) {
  for (const EnumName<E> &e : table)
    if (name == e.name)
      return e.value;
  return std::nullopt;
}

} // namespace llmc

#endif // LLMC_SUPPORT_ENUMNAMES_H
