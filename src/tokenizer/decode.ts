// Decoding as transformers 5.x does for BERT: the tokenizers WordPiece decoder with cleanup on.
// Tokens are glued with spaces, '##' pieces join the previous token, and each token (with its
// leading space) is cleaned on its own. (clean_up_tokenization_spaces is false for this tokenizer,
// so no whole-string cleanup follows: "do not" stays, " ' " stays.)

const CLEANUPS: ReadonlyArray<[string, string]> = [
  [' .', '.'],
  [' ?', '?'],
  [' !', '!'],
  [' ,', ','],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [' do not', " don't"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

function cleanup(piece: string): string {
  let s = piece;
  for (const [from, to] of CLEANUPS) if (s.includes(from)) s = s.replaceAll(from, to);
  return s;
}

export function decodeTokens(tokens: readonly string[], prefix = '##'): string {
  let out = '';
  tokens.forEach((token, i) => {
    let piece = token;
    if (i > 0) piece = token.startsWith(prefix) ? token.slice(prefix.length) : ' ' + token;
    out += cleanup(piece);
  });
  return out;
}
