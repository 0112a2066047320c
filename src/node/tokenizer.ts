/** Node: the tokenizer files of a model directory on disk (the tokenizer itself: src/tokenizer). */
import * as fs from 'fs';
import * as path from 'path';
import { BertTokenizer } from '../tokenizer/bert-tokenizer';
import { readJsonFile } from './json';

/** Reads vocab.txt (required), tokenizer_config.json and special_tokens_map.json (optional). */
export function tokenizerFromDir(dir: string, opts: { vocabSize?: number } = {}): BertTokenizer {
  const vocabFile = path.join(dir, 'vocab.txt');
  let vocabText: string;
  try {
    vocabText = fs.readFileSync(vocabFile, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(
      `${vocabFile}: ${code === 'ENOENT' ? 'missing (a model directory needs the vocab.txt of its tokenizer)' : `cannot be read (${(e as Error).message})`}`,
      { cause: e },
    );
  }
  const configFile = path.join(dir, 'tokenizer_config.json');
  const mapFile = path.join(dir, 'special_tokens_map.json');
  // resolveSettings checks that each parsed file is a JSON object and names the file if not.
  const config = readJsonFile(configFile, { optional: true }) as object | undefined;
  const specialTokens = readJsonFile(mapFile, { optional: true }) as object | undefined;
  return BertTokenizer.fromFiles(
    { vocab: vocabText, config, specialTokens, sources: { vocab: vocabFile, config: configFile, specialTokens: mapFile } },
    opts,
  );
}

/**
 * The Node entry's BertTokenizer: the core class plus `fromDir(dir)`. The core class stays free of
 * the file system (the browser bundle never loads this module); Node users keep `BertTokenizer.fromDir`.
 */
export const NodeBertTokenizer: typeof BertTokenizer & { fromDir: typeof tokenizerFromDir } = Object.assign(BertTokenizer, {
  fromDir: tokenizerFromDir,
});
export type NodeBertTokenizer = BertTokenizer;
