//===- CAPI.cpp - include/llmc/llmc.h over Model / Session ----------------===//

#include "llmc/llmc.h"

#include "llmc/Runtime/Model.h"
#include "llmc/Runtime/Sampler.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Process.h"

#include <cstring>
#include <new>
#include <string>

using namespace llmc;
using namespace llmc::runtime;

struct llmc_model {
  std::unique_ptr<Model> model;
};
struct llmc_session {
  std::unique_ptr<Session> session;
};
struct llmc_sampler {
  Sampler sampler;
};

namespace {
thread_local std::string lastError;

llmc_status setError(llmc_status s, std::string msg) {
  lastError = std::move(msg);
  return s;
}

llmc_status fromError(llvm::Error e, llmc_status fallback) {
  std::error_code ec;
  std::string msg;
  llvm::handleAllErrors(std::move(e), [&](const llvm::ErrorInfoBase &info) {
    if (!msg.empty())
      msg += "\n";
    msg += info.message();
    if (!ec)
      ec = info.convertToErrorCode();
  });
  llmc_status s = fallback;
  if (ec == std::errc::not_supported)
    s = LLMC_ERR_UNSUPPORTED;
  else if (ec == std::errc::result_out_of_range)
    s = LLMC_ERR_CONTEXT;
  else if (ec == std::errc::invalid_argument)
    s = LLMC_ERR_ARGUMENT;
  else if (ec == std::errc::not_enough_memory)
    s = LLMC_ERR_INTERNAL;
  return setError(s, msg);
}
} // namespace

extern "C" {

const char *llmc_last_error(void) { return lastError.c_str(); }

const char *llmc_status_name(llmc_status s) {
  switch (s) {
  case LLMC_OK: return "ok";
  case LLMC_ERR_ARGUMENT: return "invalid argument";
  case LLMC_ERR_IO: return "I/O error";
  case LLMC_ERR_FORMAT: return "bad bundle";
  case LLMC_ERR_UNSUPPORTED: return "unsupported host";
  case LLMC_ERR_CONTEXT: return "context exceeded";
  case LLMC_ERR_NO_TOKENIZER: return "no tokenizer";
  case LLMC_ERR_BUFFER: return "buffer too small";
  case LLMC_ERR_INTERNAL: return "internal error";
  }
  return "unknown";
}

llmc_status llmc_model_open(const char *path, llmc_model **out) {
  if (!path || !out)
    return setError(LLMC_ERR_ARGUMENT, "llmc_model_open: null argument");
  *out = nullptr;
  int fd;
  if (std::error_code ec = llvm::sys::fs::openFileForRead(path, fd))
    return setError(LLMC_ERR_IO,
                    std::string("cannot open '") + path + "': " + ec.message());
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  auto m = Model::load(path);
  if (!m)
    return fromError(m.takeError(), LLMC_ERR_FORMAT);
  *out = new (std::nothrow) llmc_model{std::move(*m)};
  return *out ? LLMC_OK : setError(LLMC_ERR_INTERNAL, "out of memory");
}

void llmc_model_free(llmc_model *m) { delete m; }

int32_t llmc_model_vocab_size(const llmc_model *m) {
  return m ? int32_t(m->model->config().vocab) : 0;
}
int64_t llmc_model_context_length(const llmc_model *m) {
  return m ? m->model->config().maxContext : 0;
}
int32_t llmc_model_bos(const llmc_model *m) {
  if (!m)
    return -1;
  const Tokenizer *t = m->model->tokenizer();
  return t ? t->bosId() : m->model->config().bos;
}
int32_t llmc_model_eos(const llmc_model *m) {
  if (!m)
    return -1;
  const Tokenizer *t = m->model->tokenizer();
  return t ? t->eosId() : m->model->config().eos;
}

llmc_status llmc_tokenize(const llmc_model *m, const char *text, int addBos,
                          int32_t *tokens, int64_t capacity, int64_t *n) {
  if (!m || !text || !n || (capacity > 0 && !tokens))
    return setError(LLMC_ERR_ARGUMENT, "llmc_tokenize: null argument");
  const Tokenizer *t = m->model->tokenizer();
  if (!t)
    return setError(LLMC_ERR_NO_TOKENIZER, "the bundle has no tokenizer");
  std::vector<int32_t> ids = t->encode(text, addBos != 0, false);
  *n = int64_t(ids.size());
  std::memcpy(tokens, ids.data(),
              size_t(std::min<int64_t>(capacity, *n)) * sizeof(int32_t));
  if (*n > capacity)
    return setError(LLMC_ERR_BUFFER, "llmc_tokenize: " + std::to_string(*n) +
                                         " tokens do not fit in " +
                                         std::to_string(capacity));
  return LLMC_OK;
}

llmc_status llmc_token_to_text(const llmc_model *m, int32_t prev, int32_t token,
                               char *buf, size_t capacity, size_t *length) {
  if (!m || !length || (capacity && !buf))
    return setError(LLMC_ERR_ARGUMENT, "llmc_token_to_text: null argument");
  const Tokenizer *t = m->model->tokenizer();
  if (!t)
    return setError(LLMC_ERR_NO_TOKENIZER, "the bundle has no tokenizer");
  if (token < 0 || token >= t->vocabSize() || prev < 0 || prev >= t->vocabSize())
    return setError(LLMC_ERR_ARGUMENT, "token id out of range");
  std::string s = t->decodePiece(prev, token);
  *length = s.size();
  if (s.size() + 1 > capacity)
    return setError(LLMC_ERR_BUFFER, "llmc_token_to_text: buffer too small");
  std::memcpy(buf, s.c_str(), s.size() + 1);
  return LLMC_OK;
}

llmc_status llmc_session_create(llmc_model *m, unsigned threads, llmc_session **out) {
  if (!m || !out)
    return setError(LLMC_ERR_ARGUMENT, "llmc_session_create: null argument");
  *out = nullptr;
  SessionOptions o;
  o.threads = threads;
  auto s = Session::create(*m->model, o);
  if (!s)
    return fromError(s.takeError(), LLMC_ERR_INTERNAL);
  *out = new (std::nothrow) llmc_session{std::move(*s)};
  return *out ? LLMC_OK : setError(LLMC_ERR_INTERNAL, "out of memory");
}

void llmc_session_free(llmc_session *s) { delete s; }
void llmc_session_reset(llmc_session *s) {
  if (s)
    s->session->reset();
}
int64_t llmc_session_position(const llmc_session *s) {
  return s ? s->session->position() : -1;
}

llmc_status llmc_prefill(llmc_session *s, const int32_t *tokens, int64_t n,
                         const float **logits) {
  if (!s || !tokens || n <= 0 || !logits)
    return setError(LLMC_ERR_ARGUMENT, "llmc_prefill: null argument or no tokens");
  auto l = s->session->prefill(llvm::ArrayRef<int32_t>(tokens, size_t(n)));
  if (!l)
    return fromError(l.takeError(), LLMC_ERR_INTERNAL);
  *logits = l->data();
  return LLMC_OK;
}

llmc_status llmc_decode(llmc_session *s, int32_t token, const float **logits) {
  return llmc_prefill(s, &token, 1, logits);
}

llmc_status llmc_sampler_create(float temperature, int32_t topK, float topP,
                                uint64_t seed, llmc_sampler **out) {
  if (!out)
    return setError(LLMC_ERR_ARGUMENT, "llmc_sampler_create: null argument");
  SamplingParams p;
  p.temperature = temperature;
  p.topK = topK;
  p.topP = topP;
  p.seed = seed;
  if (llvm::Error e = p.validate())
    return fromError(std::move(e), LLMC_ERR_ARGUMENT);
  *out = new (std::nothrow) llmc_sampler{Sampler(p)};
  return *out ? LLMC_OK : setError(LLMC_ERR_INTERNAL, "out of memory");
}

void llmc_sampler_free(llmc_sampler *s) { delete s; }

int32_t llmc_sample(llmc_sampler *s, const float *logits, int32_t vocab) {
  if (!s || !logits || vocab <= 0)
    return -1;
  return s->sampler.sample(llvm::ArrayRef<float>(logits, size_t(vocab)));
}

int32_t llmc_argmax(const float *logits, int32_t vocab) {
  if (!logits || vocab <= 0)
    return -1;
  return llmc::argmax(llvm::ArrayRef<float>(logits, size_t(vocab)));
}

} // extern "C"
