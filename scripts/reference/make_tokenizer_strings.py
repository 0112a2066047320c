#!/usr/bin/env python3
"""Writes the input strings (one JSON string a line) behind test/fixtures/reference/
tokenizer-cases-extra.jsonl: synthetic English-like sentences built from the vocabulary, random
assigned code points from every plane (uniform, and clustered within one script's block),
base letters followed by runs of combining marks (every mark Python's unicodedata knows, plus the
ones listed in src/tokenizer/unicode-tables.ts NFD_BARRIERS), and hand-picked edge cases.
Needs only the standard library; the cases themselves come from
/work/shared/reference/make_tokenizer_cases.py (see test/fixtures/README-tokenizer.md).

usage: tokenizer_extra_strings.py VOCAB_TXT OUT.jsonl [--seed S]
"""
import argparse, json, random, re, unicodedata

EDGE = [
    "ΟΔΟΣ ΣΑΣ Σ", "İSTANBUL İi", "ẞ ß ǅ ǈ ǋ ﬃ", "Ω K Å", "a\u0301\u0316 e\u0316\u0301", "\u1fef\u037e\u0387",
    "x[SEP]y[CLS]z", "[SEP ] [ SEP] [Sep] [sep]", "[MASK][MASK]", " [PAD] ", "a\u2000b\u2028c\u0085d\u000bE\u000cf",
    "\U0001F469\u200d\U0001F4BB \u2764\ufe0f \U0001F1EF\U0001F1F5", "\U000E0041\U000E007F tags", "\ue000 private \U000F0000",
    "\u00ad soft\u00adhyphen", "\u0600\u0601 arabic signs", "\U0002B820 \U0002B91F \U0002B920",
    "\u3400\u4dbf\u4e00\u9fff\uf900\ufaff", "\u1100\u1161\u11a8 \uac00\ud7a3", "\u0e3a\u0e48 \u0f71\u0f72",
]


def words(vocab_file):
    with open(vocab_file, encoding="utf-8") as f:
        return [w for w in (l.rstrip("\n") for l in f) if re.fullmatch(r"[a-z]{2,}", w)]


def sentence(rng, vocab):
    out = []
    for i in range(rng.randint(3, 25)):
        w = rng.choice(vocab)
        r = rng.random()
        if i == 0 or r < 0.1:
            w = w.capitalize()
        elif r < 0.13:
            w = w.upper()
        elif r < 0.17:
            w = w + rng.choice(["'s", "n't", "'re", "'ll", "-" + rng.choice(vocab)])
        elif r < 0.2:
            w = str(rng.randint(0, 10 ** rng.randint(1, 7)))
        elif r < 0.23:
            w = rng.choice(['"%s"', "(%s)", "“%s”", "‘%s’", "%s,", "%s;", "%s:", "%s—"]) % w
        out.append(w)
    return " ".join(out) + rng.choice([".", ".", ".", "!", "?", "...", ""])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vocab")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=2024)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    vocab = words(a.vocab)
    assigned = [cp for cp in range(0x110000)
                if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) != "Cn"]
    marks = [cp for cp in assigned if unicodedata.category(chr(cp)).startswith("M")]
    texts = [sentence(rng, vocab) for _ in range(600)]
    for _ in range(900):
        parts = []
        for _ in range(rng.randint(1, 8)):
            if rng.random() < 0.5:
                parts.append("".join(chr(rng.choice(assigned)) for _ in range(rng.randint(1, 6))))
            else:
                base = rng.choice(assigned)
                parts.append("".join(chr(min(0x10FFFF, base + rng.randint(0, 96))) for _ in range(rng.randint(1, 12))))
            parts.append(rng.choice([" ", " ", "", "\t", rng.choice(vocab) + " "]))
        texts.append("".join(c for c in "".join(parts) if not 0xD800 <= ord(c) <= 0xDFFF))
    bases = "aeiouAEIOUΣσ가İ\u0915\u0995\u1000"
    for _ in range(300):
        texts.append(" ".join(rng.choice(bases) + "".join(chr(rng.choice(marks)) for _ in range(rng.randint(1, 4)))
                              for _ in range(rng.randint(1, 4))))
    texts += EDGE
    for n in (99, 100, 101):
        texts += ["é" * n, "İ" * n, "ab" * (n // 2) + "c", "x" + "\u0301" * n]
    with open(a.out, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
    print(f"{a.out}: {len(texts)} strings")


if __name__ == "__main__":
    main()
