// BERT WordPiece tokenizer (bert-base-uncased as BLIP uses it), matching transformers 5.x
// BertTokenizer / BertTokenizerFast token for token.
import { resolveSettings, SpecialTokens, TokenizerSettings } from './settings';
import { decodeTokens } from './decode';
import { normalizeText, NormalizeOptions } from './normalize';
import { splitWords } from './pretokenize';
import { SpecialTokenSplitter } from './special-split';
import { parseVocab, Vocabulary } from './vocab';
import { WordPiece } from './wordpiece';
import { checkVocabSize } from './vocab';

export interface EncodeOptions {
  maxLength?: number;
  /** Default: true when maxLength is given. Without maxLength, true truncates to modelMaxLength. */
  truncation?: boolean;
  /** Default 'longest'. 'max_length' pads to maxLength (modelMaxLength when not given). */
  padding?: 'longest' | 'max_length' | false;
  /** Put the [ENC] id at position 0 instead of [CLS] (BLIP's image-grounded text encoder). */
  encToken?: boolean;
}

/** Rows = texts. */
export interface Encoding {
  inputIds: number[][];
  attentionMask: number[][];
}

export interface TokenizerFiles {
  /** The text of vocab.txt. */
  vocab: string;
  /** Parsed tokenizer_config.json. */
  config?: object;
  /** Parsed special_tokens_map.json. */
  specialTokens?: object;
  /** Where each came from (file paths), for errors; default: the bare file names. */
  sources?: { vocab: string; config: string; specialTokens: string };
}

export class BertTokenizer {
  readonly vocabSize: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly maskId: number;
  /**
   * BLIP's [ENC] token. BLIP's tokenizer adds two tokens after bert-base-uncased's vocabulary:
   * bos_token [DEC] = vocabSize (30522) and [ENC] = vocabSize + 1 (30523). They exist only in the
   * model's embedding table (text vocab_size 30524), not in vocab.txt, so they are never produced
   * from text ("[ENC]" written in a caption is plain text) and decode skips them.
   */
  readonly encId: number;
  readonly modelMaxLength: number;

  private readonly vocab: Vocabulary;
  private readonly normalizeOptions: NormalizeOptions;
  private readonly wordPiece: WordPiece;
  private readonly splitter: SpecialTokenSplitter;
  private readonly specialIds: ReadonlySet<number>;

  private constructor(vocab: Vocabulary, settings: TokenizerSettings, vocabSource: string) {
    this.vocab = vocab;
    const idOf = (name: keyof SpecialTokens): number => {
      const token = settings.special[name];
      const id = vocab.tokenToId.get(token);
      if (id === undefined)
        throw new Error(`${vocabSource}: special token ${JSON.stringify(token)} (${name}_token) is not in the vocabulary`);
      return id;
    };
    this.clsId = idOf('cls');
    this.sepId = idOf('sep');
    this.padId = idOf('pad');
    this.unkId = idOf('unk');
    this.maskId = idOf('mask');
    this.vocabSize = vocab.idToToken.length;
    this.encId = this.vocabSize + 1;
    this.modelMaxLength = settings.modelMaxLength;
    this.normalizeOptions = {
      lowercase: settings.lowercase,
      stripAccents: settings.stripAccents,
      tokenizeChineseChars: settings.tokenizeChineseChars,
    };
    this.wordPiece = new WordPiece(vocab.tokenToId, this.unkId);
    const special = new Map<string, number>();
    for (const name of ['unk', 'sep', 'pad', 'cls', 'mask'] as const) special.set(settings.special[name], idOf(name));
    this.splitter = new SpecialTokenSplitter(special);
    this.specialIds = new Set(special.values());
  }

  /** From texts and parsed JSON already in hand (Node's BertTokenizer.fromDir reads them: src/node/tokenizer.ts). */
  static fromFiles(files: TokenizerFiles, opts: { vocabSize?: number } = {}): BertTokenizer {
    const sources = files.sources ?? { vocab: 'vocab.txt', config: 'tokenizer_config.json', specialTokens: 'special_tokens_map.json' };
    const settings = resolveSettings(files.config, files.specialTokens, sources.config, sources.specialTokens);
    const vocab = parseVocab(files.vocab, sources.vocab);
    if (opts.vocabSize !== undefined) checkVocabSize(vocab.idToToken.length, opts.vocabSize, sources.vocab);
    return new BertTokenizer(vocab, settings, sources.vocab);
  }

  /** Appends the word-piece ids of the text (no [CLS]/[SEP]) to `out`. */
  private appendIds(text: string, out: number[]): void {
    if (!this.splitter.mayMatch(text)) {
      this.appendPlainIds(text, out);
      return;
    }
    for (const seg of this.splitter.split(text)) {
      if (typeof seg === 'number') out.push(seg);
      else this.appendPlainIds(seg, out);
    }
  }

  /** Text with no special tokens in it. */
  private appendPlainIds(text: string, out: number[]): void {
    for (const word of splitWords(normalizeText(text, this.normalizeOptions))) this.wordPiece.encodeWord(word, out);
  }

  /** Word-piece tokens, no [CLS]/[SEP]. */
  tokenize(text: string): string[] {
    const ids: number[] = [];
    this.appendIds(text, ids);
    return ids.map((id) => this.vocab.idToToken[id]);
  }

  /**
   * [CLS] ... [SEP]. With maxLength, keeps the first maxLength - 2 word pieces (transformers'
   * longest_first truncation of a single sequence). Without it nothing is cut, even past
   * modelMaxLength (transformers only warns there).
   */
  encode(text: string, opts: { maxLength?: number; encToken?: boolean } = {}): number[] {
    const ids = [opts.encToken ? this.encId : this.clsId];
    this.appendIds(text, ids);
    if (opts.maxLength !== undefined) {
      checkMaxLength(opts.maxLength);
      if (ids.length > opts.maxLength - 1) ids.length = opts.maxLength - 1;
    }
    ids.push(this.sepId);
    return ids;
  }

  encodeBatch(texts: string[], opts: EncodeOptions = {}): Encoding {
    const truncation = opts.truncation ?? opts.maxLength !== undefined;
    const limit = opts.maxLength ?? this.modelMaxLength;
    const rows = texts.map((t) => this.encode(t, { maxLength: truncation ? limit : undefined, encToken: opts.encToken }));
    const padding = opts.padding ?? 'longest';
    let width = 0;
    if (padding === 'longest') for (const r of rows) width = Math.max(width, r.length);
    else if (padding === 'max_length') {
      if (!Number.isSafeInteger(limit)) throw new RangeError(`padding 'max_length' needs a maxLength (modelMaxLength is ${limit})`);
      width = limit;
    }
    const inputIds: number[][] = [];
    const attentionMask: number[][] = [];
    for (const ids of rows) {
      const n = ids.length;
      const mask = new Array<number>(Math.max(width, n));
      for (let k = 0; k < mask.length; k++) mask[k] = k < n ? 1 : 0;
      for (let k = n; k < width; k++) ids.push(this.padId);
      inputIds.push(ids);
      attentionMask.push(mask);
    }
    return { inputIds, attentionMask };
  }

  /** Like transformers' decode: unknown ids (such as [ENC]) are skipped. */
  decode(ids: number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    const tokens: string[] = [];
    for (const id of ids) {
      if (opts.skipSpecialTokens && this.specialIds.has(id)) continue;
      const token = Number.isInteger(id) && id >= 0 ? this.vocab.idToToken[id] : undefined;
      if (token !== undefined) tokens.push(token);
    }
    return decodeTokens(tokens);
  }

  /** The id of a vocabulary token, or undefined. */
  tokenToId(token: string): number | undefined {
    return this.vocab.tokenToId.get(token);
  }

  /** The vocabulary token of an id, or undefined (e.g. for [ENC], which is not in vocab.txt). */
  idToToken(id: number): string | undefined {
    return this.vocab.idToToken[id];
  }
}

function checkMaxLength(maxLength: number): void {
  // [CLS] and [SEP] alone take 2 places. (transformers does something odd below 2; refuse instead.)
  if (!Number.isInteger(maxLength) || maxLength < 2) throw new RangeError(`maxLength must be an integer >= 2, got ${maxLength}`);
}
