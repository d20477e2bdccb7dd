/*===- llmc.h - The llmc runtime's C API ---------------------------*- C -*-===*
 *
 * Open a compiled bundle (model.llmc), create sessions (each owns its KV
 * cache; all share the model's mmap'ed weights and generated kernels),
 * tokenize, prefill, decode, sample.
 *
 *   llmc_model *m;  llmc_session *s;  const float *logits;
 *   if (llmc_model_open("model.llmc", &m) != LLMC_OK) puts(llmc_last_error());
 *   llmc_session_create(m, 0, &s);
 *   int32_t ids[256]; int64_t n;
 *   llmc_tokenize(m, "Once upon a time", 1, ids, 256, &n);
 *   llmc_prefill(s, ids, n, &logits);
 *   int32_t next = llmc_argmax(logits, llmc_model_vocab_size(m));
 *   llmc_decode(s, next, &logits);
 *   ...
 *   llmc_session_free(s); llmc_model_free(m);
 *
 * Every function that can fail returns an llmc_status; the message of the
 * last failure on the calling thread is llmc_last_error(). A model may be
 * used by several sessions on several threads at once; one session must not
 * be used by two threads at the same time.
 *
 *===----------------------------------------------------------------------===*/
#ifndef LLMC_LLMC_H
#define LLMC_LLMC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum llmc_status {
  LLMC_OK = 0,
  LLMC_ERR_ARGUMENT = 1,    /* a null pointer, a bad option, a token out of range */
  LLMC_ERR_IO = 2,          /* the file cannot be opened or read */
  LLMC_ERR_FORMAT = 3,      /* not a bundle, truncated, corrupted, wrong version */
  LLMC_ERR_UNSUPPORTED = 4, /* the host lacks CPU features the bundle needs */
  LLMC_ERR_CONTEXT = 5,     /* the tokens do not fit in the context */
  LLMC_ERR_NO_TOKENIZER = 6,/* the bundle carries no tokenizer */
  LLMC_ERR_BUFFER = 7,      /* an output buffer is too small (size reported) */
  LLMC_ERR_INTERNAL = 8
} llmc_status;

typedef struct llmc_model llmc_model;
typedef struct llmc_session llmc_session;
typedef struct llmc_sampler llmc_sampler;

/* The message of the last error on this thread ("" if none). */
const char *llmc_last_error(void);
const char *llmc_status_name(llmc_status status);

/* Models. */
llmc_status llmc_model_open(const char *path, llmc_model **out);
void llmc_model_free(llmc_model *model);
int32_t llmc_model_vocab_size(const llmc_model *model);
int64_t llmc_model_context_length(const llmc_model *model);
int32_t llmc_model_bos(const llmc_model *model);
int32_t llmc_model_eos(const llmc_model *model);

/* Tokenizer. Writes at most `capacity` ids; *n_tokens is the full count (if it
 * exceeds capacity, LLMC_ERR_BUFFER). `add_bos` puts BOS first; for a Hugging
 * Face tokenizer.json, what its post-processor puts before the text (maybe
 * nothing, as for GPT-2). */
llmc_status llmc_tokenize(const llmc_model *model, const char *text, int add_bos,
                          int32_t *tokens, int64_t capacity, int64_t *n_tokens);
/* The text of `token` following `prev`, NUL-terminated in buf (LLMC_ERR_BUFFER
 * if it does not fit; *length is the text's length). */
llmc_status llmc_token_to_text(const llmc_model *model, int32_t prev, int32_t token,
                               char *buf, size_t capacity, size_t *length);

/* Sessions. threads = 0: one per available core. */
llmc_status llmc_session_create(llmc_model *model, unsigned threads,
                                llmc_session **out);
void llmc_session_free(llmc_session *session);
void llmc_session_reset(llmc_session *session);
int64_t llmc_session_position(const llmc_session *session);

/* Run tokens at the session's position; *logits (vocab floats, valid until the
 * next call on this session) are those of the last token. */
llmc_status llmc_prefill(llmc_session *session, const int32_t *tokens, int64_t n,
                         const float **logits);
llmc_status llmc_decode(llmc_session *session, int32_t token, const float **logits);

/* Sampling: temperature 0 = greedy; top_k 0 = all; top_p 1 = all. */
llmc_status llmc_sampler_create(float temperature, int32_t top_k, float top_p,
                                uint64_t seed, llmc_sampler **out);
void llmc_sampler_free(llmc_sampler *sampler);
int32_t llmc_sample(llmc_sampler *sampler, const float *logits, int32_t vocab);
int32_t llmc_argmax(const float *logits, int32_t vocab);

#ifdef __cplusplus
}
#endif

#endif /* LLMC_LLMC_H */
