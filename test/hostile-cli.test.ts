import { expect } from 'chai';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fsProblem, invalidUtf8Offset, splitLines, writeFileAtomic } from '../src/cli/io';
import { parseConfig } from '../src/config';
import { fitText } from '../src/pictures/font';
import { NodeBertTokenizer as BertTokenizer } from '../src/node/tokenizer';
import { cli } from './helpers/cli';
import { IMAGES, TINY } from './helpers/fixtures';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blip-itm-hostile-'));
const MODEL = ['--model', TINY, '--backend', 'wasm'];
const BIN = path.resolve(__dirname, '../../bin/blip-itm.js');

function write(name: string, data: string | Uint8Array): string {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  return p;
}

/** Runs the CLI with binary standard input (the shared helper takes text). */
function cliBytes(args: string[], input: Buffer): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    input,
    encoding: 'utf8',
    env: { ...process.env, HF_HUB_OFFLINE: '', HF_ENDPOINT: 'http://127.0.0.1:9' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Files in a directory whose name contains "tmp" (left-over temporaries). */
function temporaries(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('tmp'));
}

describe('hostile command lines: bounded work, whole outputs, our own words', function () {
  this.timeout(60_000);

  describe('arguments', () => {
    it('a value beginning with "-" is a value; several images after one --image', async () => {
      const r = await cli(['score', ...MODEL, '--image', IMAGES[0], IMAGES[1], '--text', '-a cat', '--mode', 'itc', '--json']);
      expect(r.code, r.stderr).to.equal(0);
      const out = JSON.parse(r.stdout) as { itc: number[][] };
      expect(out.itc).to.have.length(2);
      expect(out.itc[0]).to.have.length(1);
    });

    it('usage errors exit 2 with one line: repeated single option, bad backend, bounds', async () => {
      const cases: [string[], RegExp][] = [
        [['rank', ...MODEL, '--image', IMAGES[0], '--image', IMAGES[1], '--text', 'a'], /rank: --image given twice; it takes one value/],
        [
          ['score', '--model', TINY, '--backend', 'gpu', '--image', IMAGES[0], '--text', 'a'],
          /--backend must be auto, webgpu, tensorflow, wasm, cpu, got "gpu"/,
        ],
        [['score', ...MODEL, '--max-length', '0', '--image', IMAGES[0], '--text', 'a'], /--max-length must be 1\.\.\d+, got 0/],
        [
          ['preprocess', '--model', TINY, '--size', '0', IMAGES[0], '--out', path.join(tmp, 'p.st')],
          /--size must be 1\.\.4096 pixels, got 0/,
        ],
        [
          ['preprocess', '--model', TINY, '--size', '20000', IMAGES[0], '--out', path.join(tmp, 'p.st')],
          /--size must be 1\.\.4096 pixels, got 20000/,
        ],
        [['score', ...MODEL, '--max-pixels', 'lots', '--image', IMAGES[0], '--text', 'a'], /--max-pixels must be a number/],
      ];
      for (const [args, pattern] of cases) {
        const r = await cli(args);
        expect(r.code, `${args.join(' ')}\n${r.stderr}`).to.equal(2);
        expect(r.stderr.trimEnd().split('\n'), r.stderr).to.have.length(1);
        expect(r.stderr).to.match(pattern);
      }
      expect(fs.existsSync(path.join(tmp, 'p.st'))).to.equal(false);
    });

    it("`blip-itm help score` shows the verb's help", async () => {
      const r = await cli(['help', 'score']);
      expect(r.code).to.equal(0);
      expect(r.stdout).to.match(/^usage: blip-itm score/);
    });

    it('- reads an image from standard input; --max-pixels refuses it from its header', async () => {
      const r = cliBytes(['score', ...MODEL, '--image', '-', '--text', 'a cat', '--mode', 'itc', '--json'], fs.readFileSync(IMAGES[0]));
      expect(r.code, r.stderr).to.equal(0);
      expect(JSON.parse(r.stdout).itc[0]).to.have.length(1);
      const small = await cli(['score', ...MODEL, '--max-pixels', '100', '--image', IMAGES[0], '--text', 'a']);
      expect(small.code).to.equal(1);
      expect(small.stderr).to.match(/exceeds the 100-pixel limit/);
    });
  });

  describe('text input', () => {
    it('--texts-file that is not UTF-8 is refused with the file and byte offset', async () => {
      const file = write('latin1.txt', Buffer.from('a cat\ncaf\xe9 au lait\n', 'latin1'));
      const r = await cli(['score', ...MODEL, '--image', IMAGES[0], '--texts-file', file]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/latin1\.txt: not valid UTF-8 at byte 9 \(bytes e9 20 61 75\)/);
    });

    it('tokenize: invalid UTF-8 on stdin is refused; CR-only line endings split lines', async () => {
      const bad = cliBytes(['tokenize', '--model', TINY], Buffer.from('"ok"\n"\xff"\n', 'latin1'));
      expect(bad.code).to.equal(1);
      expect(bad.stderr).to.match(/standard input: not valid UTF-8 at byte 6/);
      const cr = await cli(['tokenize', '--model', TINY], { input: '"a cat"\r"a dog"\r' });
      expect(cr.code, cr.stderr).to.equal(0);
      expect(cr.stdout.trimEnd().split('\n')).to.have.length(2);
    });

    it('UTF-8 checks: offsets of overlong, surrogate, truncated sequences; line splitting', () => {
      expect(invalidUtf8Offset(Buffer.from('héllo ✓ 😀'))).to.equal(-1);
      expect(invalidUtf8Offset(Uint8Array.from([0x61, 0xc0, 0x80]))).to.equal(1); // overlong
      expect(invalidUtf8Offset(Uint8Array.from([0x61, 0x62, 0xed, 0xa0, 0x80]))).to.equal(2); // surrogate
      expect(invalidUtf8Offset(Uint8Array.from([0x61, 0xe2, 0x9c]))).to.equal(1); // cut short
      expect(invalidUtf8Offset(Uint8Array.from([0xf4, 0x90, 0x80, 0x80]))).to.equal(0); // past U+10FFFF
      expect(splitLines('a\rb\r\nc\nd')).to.deep.equal(['a', 'b', 'c', 'd']);
      expect(splitLines('a\n\nb\n')).to.deep.equal(['a', '', 'b']);
    });
  });

  describe('outputs are whole or absent', () => {
    it('--out a directory, --out in a missing directory: named before any work', async () => {
      const dir = await cli(['explain', ...MODEL, '--image', IMAGES[0], '--text', 'a', '--out', tmp]);
      expect(dir.code).to.equal(1);
      expect(dir.stderr).to.match(/: is a directory; give a file name/);
      const missing = await cli(['dump', ...MODEL, '--image', IMAGES[0], '--text', 'a', '--out', 'missing-dir/x.safetensors']);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.match(/missing-dir\/x\.safetensors: directory missing-dir\/ does not exist/);
    });

    it('preprocess with a bad image leaves neither the output nor a temporary', async () => {
      const out = path.join(tmp, 'pre', 'out.safetensors');
      fs.mkdirSync(path.dirname(out), { recursive: true });
      const r = await cli(['preprocess', '--model', TINY, IMAGES[0], write('pre/bad.png', 'nope'), '--out', out]);
      expect(r.code).to.equal(1);
      expect(fs.readdirSync(path.dirname(out)).sort()).to.deep.equal(['bad.png']);
    });

    it('writeFileAtomic: a failing writer leaves nothing; success replaces the file whole', () => {
      const dir = fs.mkdtempSync(path.join(tmp, 'atomic-'));
      const file = path.join(dir, 'x.bin');
      fs.writeFileSync(file, 'old');
      expect(() =>
        writeFileAtomic(file, (t) => {
          fs.writeFileSync(t, 'half');
          throw new Error('disk on fire');
        }),
      ).to.throw(/disk on fire/);
      expect(fs.readFileSync(file, 'utf8')).to.equal('old');
      expect(temporaries(dir)).to.deep.equal([]);
      writeFileAtomic(file, Buffer.from('new'));
      expect(fs.readFileSync(file, 'utf8')).to.equal('new');
      expect(fs.readdirSync(dir)).to.deep.equal(['x.bin']);
    });

    it("file-system errors in our words: ENOSPC, EACCES, ENOENT name the user's path", () => {
      const err = (code: string) => Object.assign(new Error(`${code}: raw node text`), { code });
      expect(fsProblem('out/x.png', err('ENOSPC'), 'writing').message).to.equal('out/x.png: disk full writing out/x.png');
      expect(fsProblem('out/x.png', err('ENOENT'), 'writing').message).to.equal('out/x.png: directory out/ does not exist');
      expect(fsProblem('a.txt', err('ENOENT')).message).to.equal('a.txt: no such file');
      expect(fsProblem('a.txt', err('EACCES')).message).to.equal('a.txt: permission denied');
    });

    it('a device is written in place, never renamed over: /dev/full gives "disk full"', function () {
      if (!fs.existsSync('/dev/full') || !fs.statSync('/dev/full').isCharacterDevice()) this.skip(); // Linux only
      expect(() => writeFileAtomic('/dev/full', Buffer.from('x'))).to.throw(/^\/dev\/full: disk full writing \/dev\/full$/);
      expect(fs.statSync('/dev/full').isCharacterDevice()).to.equal(true);
      expect(() => writeFileAtomic('/dev/null', () => undefined)).to.throw(/not a regular file/);
    });
  });

  describe('files named by the user', () => {
    it('parity on a missing file or a directory', async () => {
      const missing = await cli(['parity', path.join(tmp, 'nope.safetensors'), path.join(tmp, 'nope2.safetensors')]);
      expect(missing.code).to.equal(1);
      expect(missing.stderr).to.match(/nope\.safetensors: no such file\n$/);
      const dir = await cli(['parity', tmp, tmp]);
      expect(dir.stderr).to.match(/: is a directory; give a \.safetensors file/);
    });

    it('a missing vocab.txt; a vocab.txt longer than vocab_size', async () => {
      const dir = path.join(tmp, 'novocab');
      fs.cpSync(TINY, dir, { recursive: true });
      fs.rmSync(path.join(dir, 'vocab.txt'));
      const r = await cli(['tokenize', '--model', dir], { input: '"a"\n' });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/novocab\/vocab\.txt: missing/);
      const vocabSize = (JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8')) as { text_config: { vocab_size: number } })
        .text_config.vocab_size;
      const vocab = fs.readFileSync(path.join(TINY, 'vocab.txt'), 'utf8') + Array.from({ length: 50 }, (_, i) => `extra${i}\n`).join('');
      const long = path.join(tmp, 'longvocab');
      fs.mkdirSync(long);
      fs.writeFileSync(path.join(long, 'vocab.txt'), vocab);
      expect(() => BertTokenizer.fromDir(long, { vocabSize })).to.throw(
        /vocab\.txt: \d+ tokens, more than config\.json's text_config\.vocab_size/,
      );
    });

    it('config.json validated by type', () => {
      const base = JSON.parse(fs.readFileSync(path.join(TINY, 'config.json'), 'utf8')) as Record<string, unknown>;
      const text = base.text_config as Record<string, unknown>;
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ ...base, text_config: 'oops' }, /config\.json: "text_config" must be a JSON object, got string "oops"/],
        [{ ...base, text_config: null }, /"text_config" must be a JSON object, got null/],
        [{ ...base, vision_config: undefined }, /"vision_config" must be a JSON object, got nothing \(missing\)/],
        [
          { ...base, text_config: { ...text, num_hidden_layers: 2.5 } },
          /text_config: "num_hidden_layers" must be an integer >= 1, got number 2\.5/,
        ],
        [{ ...base, model_type: 'clip' }, /"model_type" is string "clip", not "blip"/],
        [{ ...base, text_config: { ...text, hidden_act: 7 } }, /"hidden_act" must be a string/],
      ];
      for (const [json, pattern] of cases) expect(() => parseConfig(json, 'config.json')).to.throw(pattern);
      expect(() => parseConfig(base)).not.to.throw();
    });

    it('file names that are not UTF-8: Node decodes argv lossily (documented limit), stdin works', function () {
      // process.argv is decoded from UTF-8 by Node before any code runs; an invalid byte turns
      // into U+FFFD and the original name cannot be recovered. `--image -` is the way round.
      if (!fs.existsSync('/bin/bash')) this.skip();
      const r = spawnSync(
        '/bin/bash',
        ['-c', `"${process.execPath}" -e 'process.stdout.write(JSON.stringify(process.argv[1]))' $'a\\xff.jpg'`],
        { encoding: 'utf8' },
      );
      expect(JSON.parse(r.stdout)).to.equal('a\ufffd.jpg');
    });
  });

  describe('closed pipes and bounded work', () => {
    it('tokenize | head -2 ends quietly with status 0', function () {
      if (!fs.existsSync('/bin/bash')) this.skip();
      const lines = Array.from({ length: 20000 }, (_, i) => JSON.stringify(`caption number ${i}`)).join('\n');
      const input = write('many.jsonl', lines + '\n');
      const r = spawnSync(
        '/bin/bash',
        ['-c', `"${process.execPath}" "${BIN}" tokenize --model "${TINY}" < "${input}" | head -2; echo "status \${PIPESTATUS[0]}" >&2`],
        { encoding: 'utf8' },
      );
      expect(r.stdout.split('\n').filter(Boolean)).to.have.length(2);
      expect(r.stderr.trim()).to.equal('status 0');
    });

    it('fitting a 40,000-word title is linear and equals the one-by-one fit', () => {
      const long = Array.from({ length: 40000 }, (_, i) => `word${i}`).join(' ');
      const start = Date.now();
      const fitted = fitText(long, 1000, 2);
      expect(Date.now() - start).to.be.below(1000); // the one-by-one loop took minutes
      expect(fitted.endsWith('..')).to.equal(true);
      // The old loop, on a short text: drop characters until the text plus '..' fits.
      for (const [t, w, s] of [
        ['a long caption here', 40, 1],
        ['abcdef', 35, 1],
        ['abc', 5, 2],
        ['αβγδεζ', 30, 1],
      ] as [string, number, number][]) {
        const chars = Array.from(t);
        const width = (n: number) => (n === 0 ? 0 : (n * 6 - 1) * s);
        let expected = t;
        if (width(chars.length) > w) {
          while (chars.length && width(chars.length + 2) > w) chars.pop();
          expected = chars.length ? chars.join('') + '..' : '';
        }
        expect(fitText(t, w, s), `${t} ${w} ${s}`).to.equal(expected);
      }
    });
  });
});
