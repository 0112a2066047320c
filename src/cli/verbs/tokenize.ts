import { tokenizeLines } from '../../tokenizer';
import { NodeBertTokenizer as BertTokenizer } from '../../node/tokenizer';
import { Command } from '../command';
import { readStdin, splitLines } from '../io';
import { modelSource } from '../inputs';
import { resolveModel } from '../../hub';

export const tokenize: Command = {
  name: 'tokenize',
  summary: 'Reads JSON strings, one per line, from standard input and writes one JSON array of token ids per line.',
  usage: 'tokenize --model DIR|HUB_ID [--max-length N] < strings.jsonl',
  options: {
    model: { type: 'string', arg: 'DIR|HUB_ID', help: 'model directory (its vocab.txt and tokenizer_config.json) or hub id' },
    'max-length': { type: 'string', arg: 'N', help: 'truncate to N tokens, [CLS] and [SEP] included' },
  },
  async run(args) {
    const tokenizer = BertTokenizer.fromDir(await resolveModel(modelSource(args)));
    const lines = splitLines(await readStdin());
    const out = tokenizeLines(tokenizer, lines, args.integer('max-length'));
    process.stdout.write(out.map((l) => l + '\n').join(''));
  },
};
