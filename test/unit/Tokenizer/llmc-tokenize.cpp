//===- llmc-tokenize.cpp - Encode test strings with a tokenizer file ------===//
//
// For lit tests that compare llmc's tokenizers with a reference:
//
//   llmc-tokenize TOKENIZER --kind bpe STRINGS.json [--bos N --eos N]
//                 [--add-bos] [--add-eos] [--vocab N] [--check-roundtrip]
//
// prints one line of token ids per string of the JSON array STRINGS.json. With
// --check-roundtrip every string must decode back to itself, both through
// decode() and as the concatenation of its streamed pieces (decodePiece),
// which may split UTF-8 sequences. Errors (a bad tokenizer file) print
// "llmc-tokenize: error: ..." and exit 1.
//
//===----------------------------------------------------------------------===//

#include "llmc/Runtime/Tokenizer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

static cl::opt<std::string> tokenizerPath(cl::Positional, cl::Required,
                                          cl::desc("<tokenizer>"));
static cl::opt<std::string> stringsPath(cl::Positional, cl::Required,
                                        cl::desc("<strings.json>"));
static cl::opt<std::string> kindName("kind", cl::desc("tokenizer kind"),
                                     cl::init("bpe"));
static cl::opt<int> bos("bos", cl::desc("the model's BOS id"), cl::init(-1));
static cl::opt<int> eos("eos", cl::desc("the model's EOS id"), cl::init(-1));
static cl::opt<bool> addBos("add-bos", cl::desc("start each string with BOS"));
static cl::opt<bool> addEos("add-eos", cl::desc("end each string with EOS"));
static cl::opt<int> vocab("vocab", cl::desc("the model's vocabulary size"),
                          cl::init(0));
static cl::opt<bool> checkRoundTrip(
    "check-roundtrip", cl::desc("every string must decode back to itself"));

static int fail(const Twine &msg) {
  WithColor::error(errs(), "llmc-tokenize") << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "encode strings with a tokenizer\n");
  auto kind = llmc::parseTokenizerKind(kindName);
  if (!kind)
    return fail(toString(kind.takeError()));
  auto tok = llmc::Tokenizer::loadFile(*kind, tokenizerPath, vocab,
                                       llmc::TokenizerSpecialIds{bos, eos});
  if (!tok)
    return fail(toString(tok.takeError()));
  auto buf = MemoryBuffer::getFile(stringsPath);
  if (!buf)
    return fail("cannot read " + stringsPath + ": " + buf.getError().message());
  auto doc = json::parse((*buf)->getBuffer());
  if (!doc)
    return fail(toString(doc.takeError()));
  const json::Array *strings = doc->getAsArray();
  if (!strings)
    return fail(stringsPath + " is not a JSON array");

  int bad = 0;
  for (const json::Value &v : *strings) {
    std::optional<StringRef> s = v.getAsString();
    if (!s)
      return fail(stringsPath + " holds a non-string");
    std::vector<int32_t> ids = (*tok)->encode(*s, addBos, addEos);
    for (size_t i = 0; i < ids.size(); ++i)
      outs() << (i ? " " : "") << ids[i];
    outs() << "\n";
    if (!checkRoundTrip)
      continue;
    std::string decoded = (*tok)->decode(ids), streamed;
    int32_t prev = (*tok)->bosId();
    for (size_t i = addBos ? 1 : 0; i < ids.size(); ++i) {
      streamed += (*tok)->decodePiece(prev, ids[i]);
      prev = ids[i];
    }
    if (decoded != *s || streamed != *s) {
      errs() << "round trip failed: " << json::Value(s->str()) << " -> "
             << json::Value(json::fixUTF8(decoded)) << " (streamed "
             << json::Value(json::fixUTF8(streamed)) << ")\n";
      ++bad;
    }
  }
  if (bad)
    return fail(Twine(bad) + " strings did not round-trip");
  return 0;
}
