// tokenizer_config.json / special_tokens_map.json -> the few settings a BERT tokenizer uses.
// Keys transformers 5.x ignores for BertTokenizer (never_split, do_basic_tokenize, ...) are ignored.

export interface SpecialTokens {
  unk: string;
  sep: string;
  pad: string;
  cls: string;
  mask: string;
}

export interface TokenizerSettings {
  lowercase: boolean;
  stripAccents: boolean;
  tokenizeChineseChars: boolean;
  modelMaxLength: number;
  special: SpecialTokens;
}

/** bert-base-uncased's defaults, used for whatever the config leaves out. */
export const BERT_DEFAULTS: TokenizerSettings = {
  lowercase: true,
  stripAccents: true,
  tokenizeChineseChars: true,
  // transformers itself would use "unlimited" without a config; 512 is what BERT's position
  // table holds and what bert-base-uncased's own config says.
  modelMaxLength: 512,
  special: { unk: '[UNK]', sep: '[SEP]', pad: '[PAD]', cls: '[CLS]', mask: '[MASK]' },
};

const SPECIAL_KEYS: ReadonlyArray<[keyof SpecialTokens, string]> = [
  ['unk', 'unk_token'],
  ['sep', 'sep_token'],
  ['pad', 'pad_token'],
  ['cls', 'cls_token'],
  ['mask', 'mask_token'],
];

type Json = Record<string, unknown>;

function asObject(value: unknown, source: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  return value as Json;
}

function optionalBool(obj: Json, key: string, source: string): boolean | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new Error(`${source}: "${key}" must be true, false or null`);
  return v;
}

/** A special token is written either as a string or as an AddedToken object {"content": ...}. */
function tokenString(obj: Json, key: string, source: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && !Array.isArray(v) && typeof (v as Json).content === 'string') {
    return (v as Json).content as string;
  }
  throw new Error(`${source}: "${key}" must be a string or an object with a "content" string`);
}

export function resolveSettings(
  config: unknown,
  specialTokensMap: unknown,
  configSource = 'tokenizer_config.json',
  mapSource = 'special_tokens_map.json',
): TokenizerSettings {
  const cfg = config === undefined ? {} : asObject(config, configSource);
  const map = specialTokensMap === undefined ? {} : asObject(specialTokensMap, mapSource);
  const lowercase = optionalBool(cfg, 'do_lower_case', configSource) ?? BERT_DEFAULTS.lowercase;
  // strip_accents null/absent: follow do_lower_case, as the original BERT does.
  const stripAccents = optionalBool(cfg, 'strip_accents', configSource) ?? lowercase;
  const tokenizeChineseChars = optionalBool(cfg, 'tokenize_chinese_chars', configSource) ?? BERT_DEFAULTS.tokenizeChineseChars;
  let modelMaxLength = BERT_DEFAULTS.modelMaxLength;
  const mml = cfg.model_max_length;
  if (mml !== undefined && mml !== null) {
    if (typeof mml !== 'number' || !(mml > 0)) throw new Error(`${configSource}: "model_max_length" must be a positive number`);
    modelMaxLength = mml;
  }
  const special = { ...BERT_DEFAULTS.special };
  for (const [field, key] of SPECIAL_KEYS) {
    // special_tokens_map.json wins over tokenizer_config.json, as in transformers.
    const value = tokenString(map, key, mapSource) ?? tokenString(cfg, key, configSource);
    if (value !== undefined) special[field] = value;
  }
  return { lowercase, stripAccents, tokenizeChineseChars, modelMaxLength, special };
}
