//===- PairMerge.h - Greedy merging of adjacent symbols ---------*- C++ -*-===//
//
// Both BPE tokenizers (llama2.c's, by merge score; byte-level BPE, by merge
// rank) merge adjacent symbols greedily: the best adjacent pair first,
// leftmost on ties, until no adjacent pair merges. Candidate pairs wait in
// a heap; one whose symbols have changed since it was pushed is stale and
// skipped when popped, so n symbols take O(n log n) rather than a rescan
// per merge (pieces can be long: a run of spaces or digits).
//
//===----------------------------------------------------------------------===//
#ifndef LLMC_LIB_RUNTIME_PAIRMERGE_H
#define LLMC_LIB_RUNTIME_PAIRMERGE_H

#include <cstdint>
#include <optional>
#include <queue>
#include <vector>

namespace llmc::detail {

/// The symbol two adjacent symbols merge into, and how early: a greater
/// priority merges first.
struct PairMerge {
  double priority;
  int32_t merged;
};

/// Merges `symbols` in place; `mergeOf(left, right)` is the PairMerge of two
/// adjacent symbols or std::nullopt when they do not merge.
template <typename MergeOf>
void mergeAdjacentPairs(std::vector<int32_t> &symbols, MergeOf mergeOf) {
  const int n = int(symbols.size());
  if (n < 2)
    return;
  std::vector<int> prev(n), next(n);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  // A candidate merge of the symbols starting at `left` and `right`, valid
  // only while those symbols still hold the ids it was made from.
  struct Candidate {
    double priority;
    int left, right;
    int32_t leftId, rightId, merged;
  };
  auto worse = [](const Candidate &a, const Candidate &b) {
    return a.priority != b.priority ? a.priority < b.priority : a.left > b.left;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> heap(worse);
  auto consider = [&](int left, int right) {
    if (left < 0 || right < 0)
      return;
    if (std::optional<PairMerge> m = mergeOf(symbols[left], symbols[right]))
      heap.push({m->priority, left, right, symbols[left], symbols[right], m->merged});
  };
  for (int i = 0; i + 1 < n; ++i)
    consider(i, i + 1);

  std::vector<bool> alive(n, true);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right ||
        symbols[c.left] != c.leftId || symbols[c.right] != c.rightId)
      continue; // stale
    symbols[c.left] = c.merged;
    alive[c.right] = false;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0)
      prev[next[c.right]] = c.left;
    consider(prev[c.left], c.left);
    consider(c.left, next[c.left]);
  }
  size_t kept = 0;
  for (int i = 0; i < n; ++i)
    if (alive[i])
      symbols[kept++] = symbols[i];
  symbols.resize(kept);
}

} // namespace llmc::detail

#endif
