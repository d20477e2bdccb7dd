//===- RecipeFuzzer.cpp - libFuzzer target for --quant-recipe files --------===//
//
// The input is a recipe file (JSON rules of tensor-name globs and --quant
// specs). A file that parses must answer lookups for any name, and its
// toJSON() form must parse back to a recipe that answers them the same way.
//
//===----------------------------------------------------------------------===//

#include "llmc/Quant/Recipe.h"

#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

using llmc::quant::QuantRecipe;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string text(reinterpret_cast<const char *>(data), size);
  auto recipe = QuantRecipe::parseJSON(text, {}, "fuzz.json");
  if (!recipe) {
    llvm::consumeError(recipe.takeError());
    return 0;
  }
  text.assign(text.size(), '\0'); // the rules must not refer into the source

  std::string json;
  llvm::raw_string_ostream os(json);
  os << recipe->toJSON();
  os.flush();
  auto back = QuantRecipe::parseJSON(json, {}, "round-trip.json");
  if (!back) {
    llvm::errs() << "toJSON() output does not parse: "
                 << llvm::toString(back.takeError()) << "\n" << json << "\n";
    std::abort();
  }
  static const char *const names[] = {
      "tok_embeddings.weight", "layers.0.attention.wq.weight_T",
      "model.layers.11.mlp.down_proj.weight", "lm_head", "", "a.b.c",
      "layers.{1,2}.x", "*"};
  for (const char *name : names)
    if (recipe->lookup(name) != back->lookup(name)) {
      llvm::errs() << "round trip changes the spec of '" << name << "'\n"
                   << json << "\n";
      std::abort();
    }
  return 0;
}
