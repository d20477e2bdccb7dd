#!/usr/bin/python3
"""A reference for llmc's byte-level BPE tokenizer (Hugging Face tokenizer.json, GPT-2 / Llama-3 style).

Written from the algorithm, not from llmc's code: a small BPE trainer that writes a tokenizer.json, and an
encoder/decoder that reads one. Needs only the standard library and `regex` (Debian python3-regex), whose
\\p{L}/\\p{N} classes, inline flags and lookahead read the split patterns as Hugging Face's engine does.

    bpe_tokenizer.py train --form gpt2|gpt2-prefix|llama3|qwen2 --text FILE [--chars N] --merges N -o tokenizer.json
    bpe_tokenizer.py strings --text FILE --count N -o strings.json   (test strings: excerpts, Unicode samples)
    bpe_tokenizer.py encode tokenizer.json strings.json [--bos ID]   (one line of ids per string)
    bpe_tokenizer.py ids tokenizer.json TEXT [--bos ID]               (TEXT's ids, comma-separated)
    bpe_tokenizer.py decode tokenizer.json IDS... [--prefix TEXT]    (the text, UTF-8, on stdout)
    bpe_tokenizer.py break tokenizer.json CASE -o bad.json           (a tokenizer.json llmc must refuse)

Forms:
  gpt2         pre_tokenizer ByteLevel(use_regex) with GPT-2's regex, merges as "a b" strings, <|endoftext|>
               a special token that is also in the vocabulary.
  gpt2-prefix  the same with add_prefix_space.
  llama3       Sequence[Split(Llama-3's regex, Isolated), ByteLevel(use_regex=false)], merges as [a, b] pairs,
               ignore_merges, special tokens after the vocabulary (and a plain added token that overlaps one),
               and whole words in the vocabulary that no merge sequence builds (so that ignore_merges changes
               the ids).
  qwen2        an NFC normalizer, then Split(Qwen2's regex: one digit per piece) + ByteLevel(use_regex=false),
               [a, b] merges, special tokens after the vocabulary matched before normalization.
"""

import argparse
import json
import random
import sys
import unicodedata

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                  r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2_PATTERN = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
                 r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

# Text with the characters the tests exercise, so that the trained merges cover more than ASCII.
UNICODE_SAMPLES = [
    "Café déjà vu, naïve façade, Ångström, Œuvre, straße, Ελληνικά, русский текст.",
    "日本語のテキストと中文文本，한국어 문장도 있습니다。",
    "Emoji: 😀🎉👍🏽 👨‍👩‍👧 and ❤️ symbols ™ © ½ → ∞.",
    "Numbers 1234567 3.14159 2024-01-01 ١٢٣ ⅷ ²³",
    "Contractions: I'm, you're, we've, they'll, she'd, it's, DON'T, He'S.",
    "Spaces   between\twords\n\nnew lines\r\n  indented\n    code();",
]

# Test strings beyond excerpts of the text: whitespace of every kind, specials inside text, scripts the
# training text lacks (their bytes stay unmerged).
EXTRA_STRINGS = [
    "", " ", "  ", "\n", "\n\n\n", " \n ", "a", "Hello world", " Hello world", "Hello  world  ",
    "Hello\tworld\r\nagain", "trailing spaces   ", "   leading spaces", "x\u000by\u0085z\u00a0w\u3000v",
    "!\u000b?\u0085.", "a.\u000b\u000b\n",
    "It's I'M we'LL they'Ve", "'s 's's", "1 12 123 1234 12345 123456", "3.14159e+10", "tab\t\tsep",
    "Café déjà vu", "naïve", "日本語", "中文文本，", "😀🎉👍🏽", "👨‍👩‍👧", "ـ", "Привет, мир!", "שלום",
    "mixed日本English中文123", "<|endoftext|>", "Hello<|endoftext|>world", "<|endoftext|><|endoftext|>",
    "a <|endoftext|> b", "<|begin_of_text|>Hi<|eot_id|>", "<|eot_id|> <|end_of_text|>",
    "<|endoftext|", "<|begin_of_text|", "Hey<|eot_id|> y<|eot y<|eo", "Once upon a time, there was a little girl named Lily.",
    "!!!??? ...,,, ;;; ((( )))", "a\n\n b\n  c", "    def f(x):\n        return x + 1\n",
    "ʼnʼn", "ﬁﬂ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0010ffff", "~`!@#$%^&*()_+-=[]{}|\\:;\"'<>,.?/",
    # Not in NFC: decomposed accents, the Angstrom sign, Hangul jamo, combining marks out of order.
    "Cafe\u0301 de\u0301ja\u0300 vu", "A\u030angstro\u0308m \u212b", "\u1100\u1161\u11a8 \u1112\u1161\u11ab",
    "a\u0327\u0301 q\u0307\u0323", "<|im_start|>user\nCafe\u0301<|im_end|>",
]


# --- GPT-2's byte <-> unicode alphabet, written out from its definition ----------------------------------

def byte_alphabet():
    """Printable Latin-1 bytes are themselves; the other 68 take U+0100.. in byte order."""
    printable = set(range(ord("!"), ord("~") + 1)) | set(range(0xA1, 0xAC + 1)) | set(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


BYTE_TO_CHAR = byte_alphabet()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def spell(data: bytes) -> str:
    return "".join(BYTE_TO_CHAR[b] for b in data)


# --- pre-tokenization ----------------------------------------------------------------------------------

def split_isolated(pattern, text):
    """Every match a piece, and every non-empty gap between matches."""
    pieces, done = [], 0
    for m in regex.finditer(pattern, text):
        if m.start() > done:
            pieces.append(text[done:m.start()])
        if m.end() > m.start():
            pieces.append(m.group())
        done = max(done, m.end())
    if done < len(text):
        pieces.append(text[done:])
    return pieces


def pre_tokenizer_steps(pre):
    """The pre_tokenizer as a list of ('split', pattern) / ('prefix_space',) steps."""
    def byte_level(p):
        steps = []
        if p.get("add_prefix_space", True):
            steps.append(("prefix_space",))
        if p.get("use_regex", True):
            steps.append(("split", GPT2_PATTERN))
        return steps

    if pre["type"] == "ByteLevel":
        return byte_level(pre)
    assert pre["type"] == "Sequence"
    steps = []
    for p in pre["pretokenizers"]:
        if p["type"] == "Split":
            assert p["behavior"] == "Isolated" and not p.get("invert", False)
            steps.append(("split", p["pattern"]["Regex"]))
        else:
            assert p["type"] == "ByteLevel"
            steps += byte_level(p)
    return steps


def pre_tokenize(steps, text):
    pieces = [text]
    for step in steps:
        if step[0] == "split":
            pieces = [q for p in pieces for q in split_isolated(step[1], p)]
        else:
            pieces = [p if p.startswith(" ") else " " + p for p in pieces]
    return pieces


# --- training --------------------------------------------------------------------------------------------

def train(words, num_merges):
    """Classic BPE training: merge the most frequent adjacent pair (ties: the smallest pair) each round."""
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    seqs = {w: list(w) for w in counts}
    merges = []
    for _ in range(num_merges):
        pairs = {}
        for w, n in counts.items():
            s = seqs[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        for w in counts:
            s, out, i = seqs[w], [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            seqs[w] = out
    return merges


def build_tokenizer(form, text, num_merges):
    if form == "qwen2":
        text = unicodedata.normalize("NFC", text)
    if form in ("gpt2", "gpt2-prefix"):
        pre = {"type": "ByteLevel", "add_prefix_space": form == "gpt2-prefix", "trim_offsets": True,
               "use_regex": True}
    else:
        pattern = QWEN2_PATTERN if form == "qwen2" else LLAMA3_PATTERN
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    steps = pre_tokenizer_steps(pre)
    words = [spell(p.encode("utf-8")) for p in pre_tokenize(steps, text)]
    merges = train(words, num_merges)

    # Ids: the 256 byte symbols in code point order (not byte order, so that a byte is not its id), then
    # the merges' results in merge order.
    vocab = {}
    for c in sorted(BYTE_TO_CHAR.values()):
        vocab[c] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = []
    if form == "llama3":
        # Frequent words the merges do not build whole: with ignore_merges they are one token.
        counts = {}
        for w in words:
            counts[w] = counts.get(w, 0) + 1
        for w in sorted((w for w in counts if w not in vocab and len(w) > 2), key=lambda w: (-counts[w], w))[:40]:
            vocab[w] = len(vocab)
        for name in ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|start_header_id|>"]:
            added.append({"id": len(vocab) + len(added), "content": name, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True})
        # A plain added token matched in the second pass, overlapping a special one: in "y<|eot_id|>" the
        # special token wins although this one starts further left.
        added.append({"id": len(vocab) + len(added), "content": "y<|eot", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": True, "special": False})
        merges_json = [[a, b] for a, b in merges]
    elif form == "qwen2":
        for name in ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]:
            added.append({"id": len(vocab) + len(added), "content": name, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True})
        merges_json = [[a, b] for a, b in merges]
    else:
        vocab["<|endoftext|>"] = len(vocab)
        added.append({"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": True, "special": True})
        merges_json = [f"{a} {b}" for a, b in merges]
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
             "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
             "merges": merges_json}
    if form == "llama3":
        model["ignore_merges"] = True
    normalizer = {"type": "NFC"} if form == "qwen2" else None
    post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
    if form == "llama3":
        # Llama-3's encoder puts <|begin_of_text|> before the text.
        bot = next(t["id"] for t in added if t["content"] == "<|begin_of_text|>")
        post = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                      {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                      {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bot],
                                                      "tokens": ["<|begin_of_text|>"]}}}]}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": normalizer,
            "pre_tokenizer": pre,
            "post_processor": post,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": model}


# --- encoding and decoding --------------------------------------------------------------------------------

class Reference:
    def __init__(self, tok):
        model = tok["model"]
        self.vocab = model["vocab"]
        self.ranks = {}
        for i, m in enumerate(model["merges"]):
            a, b = m.split(" ") if isinstance(m, str) else m
            self.ranks[(a, b)] = i
        self.ignore_merges = model.get("ignore_merges", False)
        self.added = {t["content"]: t["id"] for t in tok["added_tokens"]}
        # Hugging Face matches the tokens with normalized=false first, then the others in what is left.
        self.passes = [[t["content"] for t in tok["added_tokens"] if not t.get("normalized", not t["special"])],
                       [t["content"] for t in tok["added_tokens"] if t.get("normalized", not t["special"])]]
        self.steps = pre_tokenizer_steps(tok["pre_tokenizer"])
        normalizer = tok.get("normalizer")
        assert normalizer in (None, {"type": "NFC"})
        self.nfc = normalizer is not None
        self.special_prefix = []
        self.special_suffix = []
        self.collect_prefix(tok.get("post_processor"))
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        for content, i in self.added.items():
            self.id_to_token.setdefault(i, content)

    def collect_prefix(self, post):
        """The ids the post-processor's single template puts before and after the sequence."""
        if not post:
            return
        if post["type"] == "Sequence":
            for p in post["processors"]:
                self.collect_prefix(p)
        elif post["type"] == "TemplateProcessing":
            after = False
            for item in post["single"]:
                if "Sequence" in item:
                    after = True
                    continue
                ids = post["special_tokens"][item["SpecialToken"]["id"]]["ids"]
                if after:
                    self.special_suffix += ids
                else:
                    self.special_prefix += ids

    def bpe(self, word):
        """GPT-2's loop: merge every occurrence of the lowest-ranked pair, left to right, until none merges."""
        parts = list(word)
        while len(parts) > 1:
            ranked = [(self.ranks[p], p) for p in zip(parts, parts[1:]) if p in self.ranks]
            if not ranked:
                break
            _, (a, b) = min(ranked)
            out, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and parts[i] == a and parts[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(parts[i])
                    i += 1
            parts = out
        return parts

    def encode_plain(self, text):
        if self.nfc:
            text = unicodedata.normalize("NFC", text)
        ids = []
        for piece in pre_tokenize(self.steps, text):
            word = spell(piece.encode("utf-8"))
            if self.ignore_merges and word in self.vocab:
                ids.append(self.vocab[word])
            else:
                ids += [self.vocab[p] for p in self.bpe(word)]
        return ids

    def encode(self, text, pass_=0):
        """Added tokens first: at each position the longest one starting there, scanning left to right; the
        text between them goes to the next pass, after the last to the BPE."""
        if pass_ == len(self.passes):
            return self.encode_plain(text)
        ids, start, pos = [], 0, 0
        by_length = sorted(self.passes[pass_], key=len, reverse=True)
        while pos < len(text):
            hit = next((a for a in by_length if text.startswith(a, pos)), None)
            if hit is None:
                pos += 1
                continue
            if pos > start:
                ids += self.encode(text[start:pos], pass_ + 1)
            ids.append(self.added[hit])
            pos += len(hit)
            start = pos
        if start < len(text):
            ids += self.encode(text[start:], pass_ + 1)
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            t = self.id_to_token[i]
            if t in self.added or any(c not in CHAR_TO_BYTE for c in t):
                out += t.encode("utf-8")
            else:
                out += bytes(CHAR_TO_BYTE[c] for c in t)
        return bytes(out)


# --- broken files ---------------------------------------------------------------------------------------

def wordpiece(tok):
    tok["model"] = {"type": "WordPiece", "unk_token": "[UNK]", "vocab": tok["model"]["vocab"]}


def sentencepiece_style(tok):
    """Llama-2's tokenizer.json: byte fallback, Metaspace-style decoding."""
    tok["model"]["byte_fallback"] = True
    tok["pre_tokenizer"] = None
    tok["decoder"] = {"type": "Sequence", "decoders": [{"type": "ByteFallback"}, {"type": "Fuse"}]}


def metaspace(tok):
    tok["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"}


def merge_not_in_vocab(tok):
    merges = tok["model"]["merges"]
    merges.insert(5, ["zq", "\u0120x"] if isinstance(merges[0], list) else "zq \u0120x")


def merged_not_in_vocab(tok):
    a, b = "\u0120", "\u0120\u0120\u0120\u0120\u0120\u0120"
    tok["model"]["vocab"].setdefault(b, len(tok["model"]["vocab"]) + len(tok["added_tokens"]))
    tok["model"]["merges"].append(f"{a} {b}" if isinstance(tok["model"]["merges"][0], str) else [a, b])


def id_out_of_range(tok):
    tok["model"]["vocab"]["a"] = 1 << 40


def id_missing(tok):
    """A vocabulary entry no merge needs is dropped: its id is a hole."""
    vocab, merges = tok["model"]["vocab"], tok["model"]["merges"]
    used = {t for m in merges for t in (m.split(" ") if isinstance(m, str) else m)}
    used |= {"".join(m.split(" ") if isinstance(m, str) else m) for m in merges}
    del vocab[max((t for t in vocab if t not in used and len(t) > 1), key=vocab.get)]


def id_shared(tok):
    tok["model"]["vocab"]["b"] = tok["model"]["vocab"]["a"]


def bad_regex(tok):
    tok["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(?i:'s|\\p{L}+"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]}


def split_removed(tok):
    tok["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed"


def nfkc(tok):
    tok["normalizer"] = {"type": "NFKC"}


def normalized_added(tok):
    """An added token matched in the normalized text (with Qwen2's NFC normalizer)."""
    tok["added_tokens"][1]["normalized"] = True


def lstrip(tok):
    tok["added_tokens"][0]["lstrip"] = True


def no_normalizer(tok):
    """Not broken: the same tokenizer without its normalizer (to show that the normalizer matters)."""
    tok["normalizer"] = None


def roberta_processing(tok):
    tok["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0]}


def suffix_template(tok):
    """Not broken: a template with its special token after the sequence (added with EOS)."""
    template = tok["post_processor"]["processors"][1]
    template["single"] = template["single"][::-1]


def template_bad_id(tok):
    template = tok["post_processor"]["processors"][1]
    template["special_tokens"]["<|begin_of_text|>"]["ids"] = [1 << 20]


def truncated(tok):
    return json.dumps(tok)[:500]


BREAKS = {f.__name__.replace("_", "-"): f for f in [
    wordpiece, sentencepiece_style, metaspace, merge_not_in_vocab, merged_not_in_vocab, id_out_of_range,
    id_missing, id_shared, bad_regex, split_removed, nfkc, normalized_added, lstrip, no_normalizer,
    roberta_processing, suffix_template, template_bad_id, truncated]}


# --- test strings --------------------------------------------------------------------------------------

def test_strings(text, count, seed=7):
    rng = random.Random(seed)
    strings = list(EXTRA_STRINGS) + UNICODE_SAMPLES
    fragments = EXTRA_STRINGS + UNICODE_SAMPLES
    while len(strings) < count:
        start = rng.randrange(len(text))
        s = text[start:start + rng.randrange(1, 200)]
        if rng.random() < 0.3:  # splice in a fragment of another script or a special token
            k = rng.randrange(len(s) + 1)
            s = s[:k] + rng.choice(fragments) + s[k:]
        strings.append(s)
    return strings


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--form", choices=["gpt2", "gpt2-prefix", "llama3", "qwen2"], required=True)
    t.add_argument("--text", required=True)
    t.add_argument("--chars", type=int, default=40000, help="training text: this many characters of --text")
    t.add_argument("--merges", type=int, default=300)
    t.add_argument("-o", "--out", required=True)
    s = sub.add_parser("strings")
    s.add_argument("--text", required=True)
    s.add_argument("--count", type=int, default=300)
    s.add_argument("-o", "--out", required=True)
    e = sub.add_parser("encode")
    e.add_argument("tokenizer")
    e.add_argument("strings")
    e.add_argument("--bos", type=int, default=None, help="put this id first")
    e.add_argument("--add-special", action="store_true",
                   help="put the post-processor's template around the text (Hugging Face's add_special_tokens)")
    i = sub.add_parser("ids")
    i.add_argument("tokenizer")
    i.add_argument("text")
    i.add_argument("--bos", type=int, default=None, help="put this id first")
    d = sub.add_parser("decode")
    d.add_argument("tokenizer")
    d.add_argument("ids", type=int, nargs="*")
    d.add_argument("--prefix", default="", help="text to print before the decoded ids")
    d.add_argument("--newline", action="store_true", help="end with a newline")
    b = sub.add_parser("break")
    b.add_argument("tokenizer")
    b.add_argument("case", choices=sorted(BREAKS))
    b.add_argument("-o", "--out", required=True)
    args = ap.parse_args()

    if args.cmd == "train":
        with open(args.text, encoding="utf-8") as f:
            text = f.read()[:args.chars]
        tok = build_tokenizer(args.form, text + "\n" + "\n".join(UNICODE_SAMPLES * 3), args.merges)
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False, indent=1)
    elif args.cmd == "strings":
        with open(args.text, encoding="utf-8") as f:
            text = f.read()
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(test_strings(text, args.count), f, ensure_ascii=False, indent=0)
    elif args.cmd == "encode":
        with open(args.tokenizer, encoding="utf-8") as f:
            ref = Reference(json.load(f))
        with open(args.strings, encoding="utf-8") as f:
            strings = json.load(f)
        for s in strings:
            ids = ([args.bos] if args.bos is not None else []) + \
                (ref.special_prefix if args.add_special else []) + ref.encode(s) + \
                (ref.special_suffix if args.add_special else [])
            print(" ".join(map(str, ids)))
    elif args.cmd == "ids":
        with open(args.tokenizer, encoding="utf-8") as f:
            ref = Reference(json.load(f))
        ids = ([args.bos] if args.bos is not None else []) + ref.encode(args.text)
        print(",".join(map(str, ids)))
    elif args.cmd == "decode":
        with open(args.tokenizer, encoding="utf-8") as f:
            ref = Reference(json.load(f))
        sys.stdout.buffer.write(args.prefix.encode("utf-8") + ref.decode(args.ids) +
                                (b"\n" if args.newline else b""))
    else:
        with open(args.tokenizer, encoding="utf-8") as f:
            tok = json.load(f)
        text = BREAKS[args.case](tok)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text if text is not None else json.dumps(tok, ensure_ascii=False))


if __name__ == "__main__":
    main()
