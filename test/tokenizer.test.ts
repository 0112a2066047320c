import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import { tokenizeLines } from '../src/tokenizer';
import { NodeBertTokenizer as BertTokenizer } from '../src/node/tokenizer';
import { referenceLines } from './helpers/fixtures';
import { tempDir } from './helpers/tmp';

const FIXTURES = path.resolve(__dirname, '../../test/fixtures');
const CKPT = path.join(FIXTURES, 'blip-itm-tiny');

interface Case {
  text: string;
  ids: number[];
  ids_35: number[];
  tokens: string[];
}

function readCases(file: string): Case[] {
  return referenceLines<Case>(file); // checks the generator's version stamp on line 1
}

function tokenizerDir(files: Record<string, string>): string {
  const dir = tempDir('blip-itm-tokenizer-');
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  return dir;
}

const vocabText = (): string => fs.readFileSync(path.join(CKPT, 'vocab.txt'), 'utf8');

describe('BertTokenizer', () => {
  const tok = BertTokenizer.fromDir(CKPT);

  for (const file of ['tokenizer-cases.jsonl', 'tokenizer-cases-extra.jsonl']) {
    describe(`reference cases: ${file}`, () => {
      const cases = readCases(path.join(FIXTURES, 'reference', file));

      it('has cases', () => expect(cases.length).to.be.greaterThan(100));

      it('encode (untruncated) matches every case', () => {
        const bad = cases.filter((c) => JSON.stringify(tok.encode(c.text)) !== JSON.stringify(c.ids));
        expect(bad.map((c) => c.text)).to.deep.equal([]);
      });

      it('encode with maxLength 35 matches every case', () => {
        const bad = cases.filter((c) => JSON.stringify(tok.encode(c.text, { maxLength: 35 })) !== JSON.stringify(c.ids_35));
        expect(bad.map((c) => c.text)).to.deep.equal([]);
      });

      it('tokenize matches every case', () => {
        const bad = cases.filter((c) => JSON.stringify(tok.tokenize(c.text)) !== JSON.stringify(c.tokens.slice(1, -1)));
        expect(bad.map((c) => c.text)).to.deep.equal([]);
      });
    });
  }

  describe('ids and settings', () => {
    it('knows the special ids of bert-base-uncased and BLIP', () => {
      expect(tok.vocabSize).to.equal(30522);
      expect([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]).to.deep.equal([0, 100, 101, 102, 103]);
      expect(tok.encId).to.equal(30523);
      expect(tok.modelMaxLength).to.equal(512);
    });

    it('keeps literal special tokens whole, case-sensitively, even inside words', () => {
      expect(tok.tokenize('x[SEP]y')).to.deep.equal(['x', '[SEP]', 'y']);
      expect(tok.tokenize('[cls] [CLS ]')).to.deep.equal(['[', 'cl', '##s', ']', '[', 'cl', '##s', ']']);
      expect(tok.encode('[MASK][MASK]')).to.deep.equal([101, 103, 103, 102]);
    });

    it('lower-cases sigma without the final form, and İ to i', () => {
      expect(tok.tokenize('ΟΔΟΣ')).to.deep.equal(['ο', '##δ', '##ο', '##σ']);
      expect(tok.tokenize('İstanbul')).to.deep.equal(['istanbul']);
    });

    it('truncates keeping [SEP] last, and refuses maxLength < 2', () => {
      expect(tok.encode('a cat on a mat', { maxLength: 4 })).to.deep.equal([101, 1037, 4937, 102]);
      expect(tok.encode('a cat', { maxLength: 2 })).to.deep.equal([101, 102]);
      expect(tok.encode('a cat', { maxLength: 100 })).to.deep.equal([101, 1037, 4937, 102]);
      expect(() => tok.encode('a', { maxLength: 1 })).to.throw(RangeError);
    });

    it('does not truncate without maxLength, even past modelMaxLength', () => {
      expect(tok.encode('word '.repeat(600))).to.have.length(602);
    });

    it('puts [ENC] at position 0 when asked', () => {
      expect(tok.encode('a cat', { encToken: true })).to.deep.equal([30523, 1037, 4937, 102]);
    });
  });

  describe('encodeBatch', () => {
    const texts = ['a cat', 'a dog on the mat'];

    it('pads to the longest row by default, with a 1/0 mask', () => {
      expect(tok.encodeBatch(texts)).to.deep.equal({
        inputIds: [
          [101, 1037, 4937, 102, 0, 0, 0],
          [101, 1037, 3899, 2006, 1996, 13523, 102],
        ],
        attentionMask: [
          [1, 1, 1, 1, 0, 0, 0],
          [1, 1, 1, 1, 1, 1, 1],
        ],
      });
    });

    it("pads to maxLength with 'max_length' and truncates by default", () => {
      const e = tok.encodeBatch(texts, { maxLength: 8, padding: 'max_length' });
      expect(e.inputIds).to.deep.equal([
        [101, 1037, 4937, 102, 0, 0, 0, 0],
        [101, 1037, 3899, 2006, 1996, 13523, 102, 0],
      ]);
      expect(e.attentionMask[1]).to.deep.equal([1, 1, 1, 1, 1, 1, 1, 0]);
      const t = tok.encodeBatch(texts, { maxLength: 5 });
      expect(t.inputIds).to.deep.equal([
        [101, 1037, 4937, 102, 0],
        [101, 1037, 3899, 2006, 102],
      ]);
    });

    it('leaves rows ragged with padding false, and long with truncation false', () => {
      const e = tok.encodeBatch(texts, { maxLength: 4, truncation: false, padding: false });
      expect(e.inputIds).to.deep.equal([
        [101, 1037, 4937, 102],
        [101, 1037, 3899, 2006, 1996, 13523, 102],
      ]);
      expect(e.attentionMask.map((m) => m.length)).to.deep.equal([4, 7]);
    });

    it('matches encode row by row on the reference texts (maxLength 35, encToken)', () => {
      const cases = readCases(path.join(FIXTURES, 'reference', 'tokenizer-cases.jsonl')).slice(0, 50);
      const e = tok.encodeBatch(
        cases.map((c) => c.text),
        { maxLength: 35, padding: 'max_length', encToken: true },
      );
      cases.forEach((c, i) => {
        const n = c.ids_35.length;
        expect(e.inputIds[i]).to.have.length(35);
        expect(e.inputIds[i].slice(0, n)).to.deep.equal([30523, ...c.ids_35.slice(1)]);
        expect(e.inputIds[i].slice(n).every((id) => id === 0)).to.equal(true);
        expect(e.attentionMask[i]).to.deep.equal([...Array<number>(n).fill(1), ...Array<number>(35 - n).fill(0)]);
      });
    });

    it('handles an empty batch', () => {
      expect(tok.encodeBatch([])).to.deep.equal({ inputIds: [], attentionMask: [] });
    });
  });

  describe('decode', () => {
    it('round-trips plain captions', () => {
      const plain = readCases(path.join(FIXTURES, 'reference', 'tokenizer-cases.jsonl')).filter(
        (c) => /^[A-Za-z]+( [A-Za-z]+)*\.?$/.test(c.text) && !c.ids.includes(100),
      );
      expect(plain.length).to.be.greaterThan(10);
      for (const c of plain) expect(tok.decode(c.ids, { skipSpecialTokens: true })).to.equal(c.text.toLowerCase());
    });

    it('matches transformers on special, unknown and punctuation ids', () => {
      // Expected strings from transformers 5.17.0 decode().
      expect(tok.decode([101, 30523, 1037, 102])).to.equal('[CLS] a [SEP]');
      expect(tok.decode([101, 30522, 1037, 102, 0, 0], { skipSpecialTokens: true })).to.equal('a');
      expect(tok.decode([2015, 1037, 1012, 1029, 999, 1010, 1005, 1056])).to.equal("##s a.?!, ' t");
      expect(tok.decode([1045, 2079, 2025, 1005, 1049])).to.equal("i do not ' m");
      expect(tok.decode([100, 1037])).to.equal('[UNK] a');
      expect(tok.decode([100, 1037], { skipSpecialTokens: true })).to.equal('a');
      expect(tok.decode([])).to.equal('');
    });
  });

  describe('configuration', () => {
    // Expected ids from transformers 5.17.0 with the fixture's files and the config changed.
    const config = JSON.parse(fs.readFileSync(path.join(CKPT, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    const variant = (patch: Record<string, unknown>): BertTokenizer =>
      BertTokenizer.fromFiles({ vocab: vocabText(), config: { ...config, ...patch } });

    it('cased: no lower-casing and (strip_accents null) no accent stripping', () => {
      expect(variant({ do_lower_case: false }).encode('Héllo WORLD naïve')).to.deep.equal([101, 100, 100, 100, 102]);
    });

    it('strip_accents without lower-casing', () => {
      expect(variant({ do_lower_case: false, strip_accents: true }).encode('Héllo WORLD naïve')).to.deep.equal([101, 100, 100, 15743, 102]);
    });

    it('lower-casing without accent stripping', () => {
      expect(variant({ strip_accents: false }).encode('Héllo WORLD naïve')).to.deep.equal([101, 100, 2088, 100, 102]);
    });

    it('tokenize_chinese_chars false', () => {
      expect(variant({ tokenize_chinese_chars: false }).encode('東京 x')).to.deep.equal([101, 1879, 30281, 1060, 102]);
    });

    it('uses BERT defaults without tokenizer_config.json', () => {
      const t = BertTokenizer.fromDir(tokenizerDir({ 'vocab.txt': vocabText() }));
      expect(t.encode('Héllo WORLD naïve')).to.deep.equal([101, 7592, 2088, 15743, 102]);
      expect(t.modelMaxLength).to.equal(512);
      const f = BertTokenizer.fromFiles({ vocab: vocabText() });
      expect(f.encode('A Cat')).to.deep.equal([101, 1037, 4937, 102]);
    });

    it('takes special token strings from special_tokens_map.json, as strings or objects', () => {
      const t = BertTokenizer.fromFiles({ vocab: vocabText(), specialTokens: { mask_token: { content: '[unused0]' } } });
      expect(t.maskId).to.equal(1);
      expect(t.encode('[unused0] [MASK]')).to.deep.equal([101, 1, 1031, 7308, 1033, 102]);
    });
  });

  describe('errors', () => {
    it('names vocab.txt when the directory or file is missing', () => {
      expect(() => BertTokenizer.fromDir(path.join(tempDir('blip-itm-tokenizer-'), 'no-such-dir'))).to.throw(/vocab\.txt/);
      expect(() => BertTokenizer.fromDir(tokenizerDir({ 'tokenizer_config.json': '{}' }))).to.throw(/vocab\.txt/);
    });

    it('names the JSON file that does not parse', () => {
      const dir = tokenizerDir({ 'vocab.txt': vocabText(), 'tokenizer_config.json': '{"do_lower_case": tru' });
      expect(() => BertTokenizer.fromDir(dir)).to.throw(/tokenizer_config\.json: invalid JSON/);
      const dir2 = tokenizerDir({ 'vocab.txt': vocabText(), 'special_tokens_map.json': '[1,' });
      expect(() => BertTokenizer.fromDir(dir2)).to.throw(/special_tokens_map\.json/);
    });

    it('rejects a config of the wrong shape', () => {
      const dir = tokenizerDir({ 'vocab.txt': vocabText(), 'tokenizer_config.json': '{"do_lower_case": "yes"}' });
      expect(() => BertTokenizer.fromDir(dir)).to.throw(/tokenizer_config\.json.*do_lower_case/);
      const dir2 = tokenizerDir({ 'vocab.txt': vocabText(), 'tokenizer_config.json': '[]' });
      expect(() => BertTokenizer.fromDir(dir2)).to.throw(/tokenizer_config\.json/);
    });

    it('names vocab.txt and the token when a special token is not in the vocabulary', () => {
      const dir = tokenizerDir({ 'vocab.txt': 'a\nb\n[CLS]\n[SEP]\n' });
      expect(() => BertTokenizer.fromDir(dir)).to.throw(/vocab\.txt.*\[PAD\]/);
      expect(() => BertTokenizer.fromFiles({ vocab: '' })).to.throw(/vocab\.txt/);
    });
  });

  describe('tokenizeLines', () => {
    it('turns JSON strings into JSON id arrays', () => {
      expect(tokenizeLines(tok, ['"a cat"', '""', '"a cat on a mat"'], 4)).to.deep.equal([
        '[101,1037,4937,102]',
        '[101,102]',
        '[101,1037,4937,102]',
      ]);
      expect(tokenizeLines(tok, ['"a cat on a mat"'])).to.deep.equal(['[101,1037,4937,2006,1037,13523,102]']);
    });

    it('names the line that is not a JSON string', () => {
      expect(() => tokenizeLines(tok, ['"ok"', 'a cat'])).to.throw(/line 2/);
      expect(() => tokenizeLines(tok, ['"ok"', '"ok"', '["a"]'])).to.throw(/line 3/);
      expect(() => tokenizeLines(tok, [''])).to.throw(/line 1/);
    });
  });
});
