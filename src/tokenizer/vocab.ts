// vocab.txt: one token a line, id = line index (as transformers' load_vocab reads it).

export interface Vocabulary {
  tokenToId: Map<string, number>;
  /** Index = id. */
  idToToken: string[];
}

export function parseVocab(text: string, source = 'vocab.txt'): Vocabulary {
  // Python's text mode reads '\r\n' and '\r' as line ends too; a final newline ends the last line.
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new Error(`${source}: the vocabulary is empty`);
  const tokenToId = new Map<string, number>();
  // A repeated token keeps its last line's id, as a Python dict built line by line would.
  lines.forEach((token, id) => tokenToId.set(token, id));
  return { tokenToId, idToToken: lines };
}

/**
 * Refuses a vocab.txt with more tokens than the model's embedding table has rows: its extra ids
 * would fail at run time (a GatherV2 error) rather than at load.
 */
export function checkVocabSize(tokens: number, vocabSize: number, vocabFile: string): void {
  if (tokens > vocabSize) {
    throw new Error(
      `${vocabFile}: ${tokens} tokens, more than config.json's text_config.vocab_size ${vocabSize}; ` +
        'the tokenizer and the model do not belong together',
    );
  }
}
