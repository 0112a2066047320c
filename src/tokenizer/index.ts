// Public API of the BERT WordPiece tokenizer.
export { BertTokenizer } from './bert-tokenizer';
export type { EncodeOptions, Encoding, TokenizerFiles } from './bert-tokenizer';
export { tokenizeLines } from './lines';
export { checkVocabSize } from './vocab';
export { normalizeText } from './normalize';
export type { NormalizeOptions } from './normalize';
export { splitWords } from './pretokenize';
