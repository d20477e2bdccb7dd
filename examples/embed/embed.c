/*===- embed.c - Using llmc from C -------------------------------------------===*
 *
 *   llmc-embed model.llmc ["prompt"] [n_new]
 *
 * Greedy generation through the C API (include/llmc/llmc.h), twice: first two
 * sessions one after the other, then two sessions at the same time on two
 * threads (one model, shared weights, a KV cache each). Prints the text and
 * exits non-zero unless all four runs produced the same tokens.
 *
 *===----------------------------------------------------------------------===*/
#include "llmc/llmc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 1024

struct job {
  llmc_model *model;
  const int32_t *prompt;
  int64_t n_prompt;
  int n_new;
  int32_t out[MAX_TOKENS];
  int n_out;
  llmc_status status;
};

static void *generate(void *arg) {
  struct job *j = (struct job *)arg;
  llmc_session *s = NULL;
  const float *logits = NULL;
  int32_t vocab = llmc_model_vocab_size(j->model);
  j->n_out = 0;
  j->status = llmc_session_create(j->model, 1, &s);
  if (j->status != LLMC_OK)
    return NULL;
  j->status = llmc_prefill(s, j->prompt, j->n_prompt, &logits);
  while (j->status == LLMC_OK && j->n_out < j->n_new) {
    int32_t next = llmc_argmax(logits, vocab);
    if (next == llmc_model_eos(j->model))
      break;
    j->out[j->n_out++] = next;
    if (llmc_session_position(s) >= llmc_model_context_length(j->model))
      break;
    j->status = llmc_decode(s, next, &logits);
  }
  llmc_session_free(s);
  return NULL;
}

static int same(const struct job *a, const struct job *b) {
  return a->n_out == b->n_out &&
         memcmp(a->out, b->out, (size_t)a->n_out * sizeof(int32_t)) == 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s model.llmc [prompt] [n_new]\n", argv[0]);
    return 2;
  }
  const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
  int n_new = argc > 3 ? atoi(argv[3]) : 64;
  if (n_new < 0 || n_new > MAX_TOKENS)
    n_new = MAX_TOKENS;

  llmc_model *model = NULL;
  llmc_status st = llmc_model_open(argv[1], &model);
  if (st != LLMC_OK) {
    fprintf(stderr, "llmc-embed: %s: %s\n", llmc_status_name(st), llmc_last_error());
    return 1;
  }
  int32_t ids[MAX_TOKENS];
  int64_t n = 0;
  st = llmc_tokenize(model, prompt, 1, ids, MAX_TOKENS, &n);
  if (st != LLMC_OK) {
    fprintf(stderr, "llmc-embed: %s: %s\n", llmc_status_name(st), llmc_last_error());
    llmc_model_free(model);
    return 1;
  }

  static struct job jobs[4];
  for (int i = 0; i < 4; ++i) {
    jobs[i].model = model;
    jobs[i].prompt = ids;
    jobs[i].n_prompt = n;
    jobs[i].n_new = n_new;
  }
  /* One after the other. */
  generate(&jobs[0]);
  generate(&jobs[1]);
  /* Two at once. */
  pthread_t t[2];
  for (int i = 0; i < 2; ++i)
    pthread_create(&t[i], NULL, generate, &jobs[2 + i]);
  for (int i = 0; i < 2; ++i)
    pthread_join(t[i], NULL);

  for (int i = 0; i < 4; ++i)
    if (jobs[i].status != LLMC_OK) {
      fprintf(stderr, "llmc-embed: run %d: %s: %s\n", i,
              llmc_status_name(jobs[i].status), llmc_last_error());
      llmc_model_free(model);
      return 1;
    }

  /* The text of the first run. */
  char piece[256];
  size_t len;
  fputs(prompt, stdout);
  int32_t prev = ids[n - 1];
  for (int i = 0; i < jobs[0].n_out; ++i) {
    if (llmc_token_to_text(model, prev, jobs[0].out[i], piece, sizeof piece, &len) ==
        LLMC_OK)
      fputs(piece, stdout);
    prev = jobs[0].out[i];
  }
  fputc('\n', stdout);

  int ok = same(&jobs[0], &jobs[1]) && same(&jobs[0], &jobs[2]) &&
           same(&jobs[0], &jobs[3]);
  printf("sequential and concurrent sessions: %s (%d tokens)\n",
         ok ? "identical" : "DIFFERENT", jobs[0].n_out);
  llmc_model_free(model);
  return ok ? 0 : 1;
}
