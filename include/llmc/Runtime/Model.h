//===- Model.h - A loaded bundle and its inference sessions ----*- C++ -*-===//
//
//   auto model = cantFail(Model::load("model.llmc"));
//   auto session = cantFail(Session::create(*model, {.threads = 2}));
//   ArrayRef<float> logits = cantFail(session->prefill(tokens));
//   logits = cantFail(session->decode(next));
//
// A Model is the mmap'ed bundle (weights used in place, shared by every
// session), its program and the kernels generated for this host. A Session owns
// a KV cache, an activation arena and a thread pool; sessions of one model may
// run concurrently on different threads.
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_RUNTIME_MODEL_H
#define LLMC_RUNTIME_MODEL_H

#include "llmc/Bundle/Bundle.h"
#include "llmc/CodeGen/Manifest.h"
#include "llmc/CodeGen/Plan.h"
#include "llmc/CodeGen/ProgramABI.h"
#include "llmc/Kernels/Matmul.h"
#include "llmc/Runtime/Tokenizer.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace llvm::orc {
class LLJIT;
} // namespace llvm::orc

namespace llmc::quant {
class RandomizedHadamard;
} // namespace llmc::quant

namespace llmc::runtime {

class Profile;
class WeightFile;

/// Observes the input rows of every matmul (calibration: Calibrate.h):
/// x[r * ldx + k], r < m, k < K of packed slot `slot`.
using MatmulInputObserver = std::function<void(int32_t slot, const float *x,
                                               int64_t m, int64_t ldx)>;

struct LoadOptions {
  /// Also verify the weights' checksum (pages in the whole file).
  bool verifyWeights = false;
  /// Execute the plan with the runtime's C++ driver instead of linking the
  /// bundle's program object (for comparisons; also via LLMC_NO_JIT=1).
  bool interpret = false;
  /// Where the packed (streamed) weights live. Mapped: in the bundle's file
  /// mapping (load in milliseconds, pages come in on first use, 4 KiB pages).
  /// HugePages: read at load into anonymous memory backed by 2 MiB
  /// transparent huge pages: decode streams every weight once per token, and
  /// with 4 KiB pages it pays a TLB miss (page walk) every 4 KiB, which costs
  /// up to a third of decode speed. Auto: HugePages when the model's packed
  /// weights are >= 64 MiB, the host has transparent huge pages and the bundle
  /// is a file (Model::load); else Mapped. LLMC_WEIGHT_PAGES=mapped|huge
  /// overrides Auto.
  enum class WeightPages { Auto, Mapped, HugePages };
  WeightPages weightPages = WeightPages::Auto;
  /// The file the bundle's bytes are in and the bundle's offset in it, for
  /// reading the weights into huge pages with pread (their pages then never
  /// count in this process's RSS). Model::load sets it; a standalone
  /// executable passes itself and its bundle's offset. Empty: huge pages only
  /// when asked for (HugePages), copied from the mapping.
  std::string bundleFile;
  uint64_t bundleFileOffset = 0;
};

class Model {
public:
  static llvm::Expected<std::unique_ptr<Model>> load(llvm::StringRef path,
                                                     LoadOptions options = {});
  /// A bundle already opened (e.g. from a buffer: the tail of a standalone
  /// executable); `name` is used in messages.
  static llvm::Expected<std::unique_ptr<Model>>
  fromBundle(std::unique_ptr<bundle::Bundle> bundle, llvm::StringRef name,
             LoadOptions options = {});
  ~Model();

  const codegen::Manifest &manifest() const { return manifest_; }
  const codegen::ProgramPlan &plan() const { return plan_; }
  const codegen::ModelConfig &config() const { return plan_.config; }
  const bundle::Bundle &bundle() const { return *bundle_; }
  /// Null when the bundle carries no tokenizer.
  const Tokenizer *tokenizer() const { return tokenizer_.get(); }
  /// Tier of the kernels generated for this host.
  IsaTier kernelTier() const { return tier_; }
  /// Kernel descriptors, one per packed weight ("N x K format tier blocking").
  std::vector<std::string> kernelDescriptions() const;
  /// Bytes of the weights section.
  uint64_t weightBytes() const { return weightBytes_; }
  double loadMs() const { return loadMs_; }
  /// Of loadMs(): reading the packed weights into huge pages (0 if mapped).
  double weightReadMs() const { return weightReadMs_; }
  /// True when the packed weights were read into huge pages at load.
  bool weightsInHugePages() const { return weightsInHugePages_; }

  /// True when the bundle's generated program is linked and used.
  bool usesProgram() const { return prefill_ != nullptr; }
  /// Milliseconds spent linking the program object (ORC).
  double linkMs() const { return linkMs_; }

  // Used by sessions.
  const float *dense(int32_t slot) const;
  /// out[t * ldout, + width) = row tokens[t] of the [rows, width] table in
  /// `slot` (an Embed step's, dense or a packed table dequantized; checked at
  /// load, token ids by the session).
  /// Read with pread from the bundle's file when there is one, so that only
  /// the rows read count in RSS (ProgramABI.h: why); else from the mapping.
  llvm::Error gatherRows(int32_t slot, const int32_t *tokens, int64_t n,
                         float *out, int64_t ldout) const;
  const uint8_t *weightsBase() const { return weights_; }
  /// Packed slots (matmuls' and embedding tables'); empty for the others.
  const kernels::PackedWeights &packed(int32_t slot) const { return packed_[slot]; }
  codegen::PrefillFn prefillEntry() const { return prefill_; }
  const kernels::Matmul &matmul(int32_t slot) const { return matmuls_[slot]; }
  /// The rotation applied to the slot's input (WeightSlot::rotated), or null.
  const quant::RandomizedHadamard *rotation(int32_t slot) const {
    return rotations_[slot].get();
  }

private:
  Model() = default;
  std::unique_ptr<bundle::Bundle> bundle_;
  codegen::Manifest manifest_;
  codegen::ProgramPlan plan_;
  std::unique_ptr<Tokenizer> tokenizer_;
  double weightReadMs_ = 0;
  bool weightsInHugePages_ = false;
  const uint8_t *weights_ = nullptr;
  uint64_t weightBytes_ = 0;
  /// The bundle's file, open for the model's lifetime (gatherRows), and the
  /// weights section's offset in it; none for a bundle in memory.
  std::unique_ptr<WeightFile> file_;
  /// gatherRows of a SlotKind::PackedTable slot.
  llvm::Error gatherPackedRows(int32_t slot, const int32_t *tokens, int64_t n,
                               float *out, int64_t ldout) const;
  uint64_t weightsFileOffset_ = 0;
  /// With weights in huge pages: the buffer every packed matmul weight is
  /// read into (packed_ borrows from it; declared first, freed last).
  std::shared_ptr<uint8_t> packedArena_;
  std::vector<kernels::PackedWeights> packed_;
  std::vector<kernels::Matmul> matmuls_;
  std::vector<std::unique_ptr<quant::RandomizedHadamard>> rotations_;
  IsaTier tier_ = IsaTier::Scalar;
  double loadMs_ = 0, linkMs_ = 0;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  codegen::PrefillFn prefill_ = nullptr;
  llvm::Error linkProgram(llvm::ArrayRef<uint8_t> object);
  static llvm::Expected<std::unique_ptr<Model>>
  fromBundle(std::unique_ptr<bundle::Bundle> bundle, llvm::StringRef name,
             LoadOptions options, std::chrono::steady_clock::time_point t0);
};

struct SessionOptions {
  /// Threads per session, 0: one per available core. More than the cores is
  /// allowed (oversubscription), up to kMaxThreads; a request the system
  /// refuses is an error from Session::create.
  static constexpr unsigned kMaxThreads = 4096;
  unsigned threads = 0;
  /// When set, every kernel call is timed into it (Profile.h); owned by the
  /// caller, outlives the session.
  Profile *profile = nullptr;
  /// When set, called with every matmul's input before it runs.
  MatmulInputObserver matmulInputs = nullptr;
};

class Session {
public:
  static llvm::Expected<std::unique_ptr<Session>>
  create(const Model &model, SessionOptions options = {});
  ~Session();

  /// Run `tokens` at the current position; returns the logits of the last one
  /// (valid until the next call). Longer prompts than the bundle's tokens per
  /// call are run in chunks. A prompt that does not fit in the context is an
  /// error and leaves the session unchanged.
  llvm::Expected<llvm::ArrayRef<float>> prefill(llvm::ArrayRef<int32_t> tokens);
  llvm::Expected<llvm::ArrayRef<float>> decode(int32_t token);
  /// Like prefill, but calls `rows(firstIndex, logits[n][vocab])` with the
  /// logits of every token (perplexity).
  llvm::Error
  forwardAll(llvm::ArrayRef<int32_t> tokens,
             llvm::function_ref<void(int64_t, llvm::ArrayRef<float>)> rows);

  int64_t position() const { return pos_; }
  unsigned threads() const;
  /// The options' profile (null: kernels are not timed).
  Profile *profile() const { return profile_; }
  int64_t contextLength() const;
  /// Forget the cached tokens.
  void reset() { pos_ = 0; }
  const Model &model() const { return model_; }

  // The kernel ABI of the generated program (ProgramABI.h) lands here.
  void kernelMatmul(int32_t weight, const float *x, int64_t m, int64_t ldx,
                    float *y, int64_t ldy);
  void kernelAttention(int32_t step, int64_t n, int64_t pos);
  void kernelEmbed(int32_t weight, const int32_t *tokens, int64_t n, float *out,
                   int64_t ldout);
  void kernelParallel(codegen::GlueFn fn, codegen::llmc_program_state *s,
                      int64_t begin, int64_t end, int64_t pos, int64_t rowCost);
  /// Runs MoE step `step` on the call's n tokens (MoE.cpp).
  void kernelMoE(int32_t step, int64_t n);

private:
  /// The activation arena of the session's calls, and the session's threads.
  float *arena() const;
  ThreadPool &pool() const;
  /// The MoE step's buffers (MoE.h), made on first use.
  struct MoEBuffers &moeBuffers();
  template <typename KT> void attentionImpl(int32_t step, int64_t n, int64_t pos);
  explicit Session(const Model &m);
  llvm::Error check(llvm::ArrayRef<int32_t> tokens) const;
  /// Keeps the first failure of the current call's kernels in kernelError_.
  void recordKernelError(llvm::Error e);
  /// That failure as an error (success when there was none).
  llvm::Error kernelFailure() const;
  /// One call of the program: n <= maxTokens tokens at position pos_.
  llvm::Error run(const int32_t *tokens, int64_t n, bool allLogits);

  const Model &model_;
  struct State;
  std::unique_ptr<State> state_;
  int64_t pos_ = 0;
  std::vector<float> last_;
  std::string kernelError_; ///< first kernel failure of the current call
  Profile *profile_ = nullptr;
  MatmulInputObserver matmulInputs_;
  std::unique_ptr<struct MoEBuffers> moe_;
};

} // namespace llmc::runtime

#endif // LLMC_RUNTIME_MODEL_H
