import { expect } from 'chai';
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import { RawTensor } from '../src/weights/raw-tensor';
import { openSafetensors } from '../src/node/safetensors';
import { openTorchBin } from '../src/node/checkpoint';
import { TorchBinFile } from '../src/weights/torch-bin';
import { tempDir } from './helpers/tmp';

const FIX = path.resolve(__dirname, '../../test/fixtures');
const TINY_BIN = path.join(FIX, 'blip-itm-tiny-bin/pytorch_model.bin');
const TINY_ST = path.join(FIX, 'blip-itm-tiny/model.safetensors');
const TB = path.join(FIX, 'torch-bin');

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}
const EXPECTED = JSON.parse(fs.readFileSync(path.join(TB, 'expected.json'), 'utf8')) as Record<string, Record<string, Expected>>;
const STORED: Record<string, string> = {
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  float64: 'F64',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

function bitsEqual(a: RawTensor, b: RawTensor, key: string): void {
  expect(a.dtype, key).to.equal(b.dtype);
  expect(a.shape, key).to.deep.equal(b.shape);
  expect(a.data.length, key).to.equal(b.data.length);
  const ab = Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const bb = Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength);
  expect(ab.equals(bb), `${key}: bytes differ`).to.equal(true);
}

function withFile<T>(file: string, fn: (f: TorchBinFile) => T): T {
  const f = openTorchBin(file);
  try {
    return fn(f);
  } finally {
    f.close();
  }
}

function tmpFile(name: string, data: Uint8Array): string {
  const dir = tempDir('torch-bin-test-');
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return file;
}

/** A minimal stored (uncompressed) zip writer, for hand-crafted archives. */
function makeZip(members: [string, Uint8Array][]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of members) {
    const n = Buffer.from(name, 'utf8');
    const crc = zlib.crc32(data) >>> 0;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(n.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, n, Buffer.from(data));
    centrals.push(ch, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** Pickle building blocks (protocol 2 opcodes). */
const P = {
  proto: Buffer.from([0x80, 0x02]),
  str: (s: string): Buffer => {
    const b = Buffer.from(s, 'utf8');
    const h = Buffer.alloc(5);
    h[0] = 0x58;
    h.writeUInt32LE(b.length, 1);
    return Buffer.concat([h, b]);
  },
  global: (m: string, n: string): Buffer => Buffer.from(`c${m}\n${n}\n`, 'latin1'),
  int1: (v: number): Buffer => Buffer.from([0x4b, v]),
  op: (...codes: number[]): Buffer => Buffer.from(codes),
};
const MARK = 0x28,
  TUPLE = 0x74,
  TUPLE1 = 0x85,
  REDUCE = 0x52,
  STOP = 0x2e,
  EMPTY_DICT = 0x7d,
  SETITEM = 0x73,
  BINPERSID = 0x51,
  EMPTY_TUPLE = 0x29,
  NEWFALSE = 0x89;

/** A valid one-tensor state dict {'w': float32[2]} as torch would pickle it. */
function goodPickle(): Buffer {
  return Buffer.concat([
    P.proto,
    P.op(EMPTY_DICT),
    P.str('w'),
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.op(MARK),
    P.op(MARK),
    P.str('storage'),
    P.global('torch', 'FloatStorage'),
    P.str('0'),
    P.str('cpu'),
    P.int1(2),
    P.op(TUPLE),
    P.op(BINPERSID),
    P.int1(0),
    P.int1(2),
    P.op(TUPLE1),
    P.int1(1),
    P.op(TUPLE1),
    P.op(NEWFALSE),
    P.global('collections', 'OrderedDict'),
    P.op(EMPTY_TUPLE, REDUCE),
    P.op(TUPLE, REDUCE),
    P.op(SETITEM, STOP),
  ]);
}

function archive(pkl: Uint8Array, storage = Buffer.from(new Float32Array([1.5, -2]).buffer)): Buffer {
  return makeZip([
    ['archive/data.pkl', pkl],
    ['archive/data/0', storage],
    ['archive/version', Buffer.from('3\n')],
  ]);
}

describe('TorchBinFile', () => {
  it('reads the tiny BLIP .bin bit-exactly equal to its safetensors twin', () => {
    const st = openSafetensors(TINY_ST);
    try {
      withFile(TINY_BIN, (bin) => {
        // The .bin also keeps the int64 position_ids buffer, as old exports do; the safetensors twin drops it.
        const extra = 'text_encoder.embeddings.position_ids';
        expect(bin.storedDType(extra)).to.equal('I64');
        const ids = bin.read(extra);
        expect(ids.shape).to.deep.equal([1, 64]);
        expect(Array.from(ids.data)).to.deep.equal(Array.from({ length: 64 }, (_, i) => i));
        expect([...bin.keys()].filter((k) => k !== extra).sort()).to.deep.equal([...st.keys()].sort());
        for (const k of st.keys()) {
          expect(bin.shape(k), k).to.deep.equal(st.shape(k));
          expect(bin.storedDType(k), k).to.equal(st.storedDType(k));
          bitsEqual(bin.read(k), st.read(k), k);
        }
      });
    } finally {
      st.close();
    }
  });

  for (const fixture of ['views.bin', 'module-state.bin', 'protocol4.bin', 'wrapped.bin', 'big-endian.bin', 'deflated.bin', 'zip64.bin']) {
    it(`reads ${fixture} like torch.load(...).contiguous()`, () => {
      const exp = EXPECTED[fixture];
      withFile(path.join(TB, fixture), (f) => {
        expect([...f.keys()].sort()).to.deep.equal(Object.keys(exp).sort());
        for (const [k, e] of Object.entries(exp)) {
          expect(f.shape(k), k).to.deep.equal(e.shape);
          expect(f.storedDType(k), k).to.equal(STORED[e.dtype]);
          const t = f.read(k);
          expect(t.shape, k).to.deep.equal(e.shape);
          const isFloat = e.dtype.startsWith('float') || e.dtype === 'bfloat16';
          expect(t.dtype, k).to.equal(isFloat ? 'float32' : e.dtype === 'uint8' || e.dtype === 'bool' ? 'uint8' : 'int32');
          const want = isFloat
            ? Float32Array.from(e.values)
            : e.dtype === 'uint8' || e.dtype === 'bool'
              ? Uint8Array.from(e.values)
              : Int32Array.from(e.values);
          expect(Array.from(t.data), k).to.deep.equal(Array.from(want));
        }
      });
    });
  }

  it('keeps views of one storage independent (tied weights, slices)', () => {
    withFile(path.join(TB, 'views.bin'), (f) => {
      const a = f.read('tied_a');
      const b = f.read('tied_b');
      bitsEqual(a, b, 'tied');
      a.data[0] = 1234; // each read returns its own copy
      expect(f.read('tied_b').data[0]).to.not.equal(1234);
      expect(Array.from(f.read('slice').data)).to.deep.equal([1, 1.5, 2, 4, 4.5, 5]);
      expect(f.read('scalar')).to.deep.include({ shape: [] });
      expect(Array.from(f.read('scalar').data)).to.deep.equal([3.25]);
      expect(f.read('empty').data.length).to.equal(0);
    });
  });

  it('lists _rebuild_tensor_v3 tensors and reports their dtype, failing clearly on unsupported ones', () => {
    withFile(path.join(TB, 'v3.bin'), (f) => {
      expect(f.keys().sort()).to.deep.equal(['f32', 'u16']);
      expect(f.storedDType('u16')).to.equal('U16');
      expect(f.shape('u16')).to.deep.equal([3]);
      expect(Array.from(f.read('f32').data)).to.deep.equal([0.5, 1.5]);
      expect(() => f.read('u16')).to.throw(/v3\.bin: u16: unsupported element type U16/);
    });
  });

  it('ignores non-tensor entries of a training checkpoint', () => {
    withFile(path.join(TB, 'wrapped.bin'), (f) => expect(f.keys()).to.include('emb.weight'));
  });

  it('reads a hand-made archive and errors on unknown keys and after close', () => {
    const file = tmpFile('good.bin', archive(goodPickle()));
    const f = openTorchBin(file);
    expect(f.keys()).to.deep.equal(['w']);
    expect(Array.from(f.read('w').data)).to.deep.equal([1.5, -2]);
    expect(() => f.read('nope')).to.throw(`${file}: no tensor named nope`);
    f.close();
    expect(() => f.read('w')).to.throw(/already closed/);
  });

  describe('refuses unsafe or broken files', () => {
    it('a torch.save archive whose pickle calls os.system (fixture)', () => {
      const file = path.join(FIX, 'malicious/reduce-os-system.bin');
      expect(() => openTorchBin(file)).to.throw(`${file}: refusing to load: pickle references posix.system`);
    });

    it('a hand-crafted GLOBAL os.system, before any call is interpreted', () => {
      const pkl = Buffer.concat([P.proto, P.global('os', 'system'), P.str('echo hi'), P.op(TUPLE1, REDUCE, STOP)]);
      const file = tmpFile('evil.bin', archive(pkl));
      expect(() => openTorchBin(file)).to.throw(`${file}: refusing to load: pickle references os.system`);
    });

    it('STACK_GLOBAL builtins.eval and look-alike names', () => {
      const stackGlobal = Buffer.concat([P.proto, P.str('builtins'), P.str('eval'), P.op(0x93, STOP)]);
      expect(() => openTorchBin(tmpFile('eval.bin', archive(stackGlobal)))).to.throw(/refusing to load: pickle references builtins\.eval/);
      for (const [m, n] of [
        ['torch', 'constructor'],
        ['torch', '__proto__'],
        ['torch._utils', '_rebuild_device_tensor_from_numpy'],
        ['torch', 'load'],
      ]) {
        const pkl = Buffer.concat([P.proto, P.global(m, n), P.op(STOP)]);
        expect(() => openTorchBin(tmpFile('x.bin', archive(pkl))), `${m}.${n}`).to.throw(`refusing to load: pickle references ${m}.${n}`);
      }
    });

    it('calling an allowed non-function global (a storage class)', () => {
      const pkl = Buffer.concat([P.proto, P.global('torch', 'FloatStorage'), P.op(EMPTY_TUPLE, REDUCE, STOP)]);
      expect(() => openTorchBin(tmpFile('call.bin', archive(pkl)))).to.throw(/refusing to call torch\.FloatStorage/);
    });

    it('corrupted pickles: truncated, bad opcode, stack underflow, missing memo, wrong types', () => {
      const good = goodPickle();
      const cases: [string, Buffer, RegExp][] = [
        [
          'truncated',
          good.subarray(0, good.length - 20),
          /not a valid PyTorch checkpoint: archive\/data\.pkl: pickle: (truncated|stack underflow|no MARK)/,
        ],
        ['no STOP', good.subarray(0, good.length - 1), /pickle: truncated: no STOP opcode/],
        ['bad opcode', Buffer.concat([P.proto, P.op(0xff)]), /pickle: unsupported opcode 0xff/],
        ['text opcode', Buffer.concat([P.proto, Buffer.from('I1\n.')]), /unsupported opcode 0x49 \('I'\)/],
        ['underflow', Buffer.concat([P.proto, P.op(TUPLE1)]), /pickle: stack underflow/],
        ['missing memo', Buffer.concat([P.proto, P.op(0x68, 7, STOP)]), /memo entry 7 is missing/],
        ['not a dict', Buffer.concat([P.proto, P.int1(3), P.op(STOP)]), /data\.pkl holds a number, not a state dict/],
        ['bad persid', Buffer.concat([P.proto, P.str('x'), P.op(BINPERSID, STOP)]), /persistent id is a str/],
        [
          'setitem on tuple',
          Buffer.concat([P.proto, P.op(EMPTY_TUPLE), P.str('k'), P.str('v'), P.op(SETITEM, STOP)]),
          /SETITEM\(S\) on a 0-tuple/,
        ],
      ];
      for (const [what, pkl, re] of cases) {
        const file = tmpFile('bad.bin', archive(pkl));
        expect(() => openTorchBin(file), what).to.throw(re);
      }
    });

    it('a tensor that reaches past its storage', () => {
      const file = tmpFile('short.bin', archive(goodPickle(), Buffer.from(new Float32Array([1]).buffer)));
      expect(() => openTorchBin(file)).to.throw(
        /tensor w: F32 \[2\] at offset 0 with stride \[1\] needs 8 bytes of storage 0, which has 4/,
      );
    });

    it('a missing storage record', () => {
      const file = tmpFile('nostorage.bin', makeZip([['archive/data.pkl', goodPickle()]]));
      expect(() => openTorchBin(file)).to.throw(/tensor w: its storage archive\/data\/0 is missing/);
    });

    it('a corrupted data.pkl inside the real checkpoint (CRC mismatch)', () => {
      const bytes = fs.readFileSync(TINY_BIN);
      // data.pkl is the first member: flip a byte well inside its data.
      const nameLen = bytes.readUInt16LE(26);
      const extraLen = bytes.readUInt16LE(28);
      bytes[30 + nameLen + extraLen + 100] ^= 0x5a;
      const file = tmpFile('corrupt.bin', bytes);
      expect(() => openTorchBin(file)).to.throw(
        /corrupt\.bin: not a valid PyTorch checkpoint: entry pytorch_model\/data\.pkl is corrupt \(CRC-32/,
      );
    });

    it('truncated copies of the real checkpoint', () => {
      const bytes = fs.readFileSync(TINY_BIN);
      for (const keep of [bytes.length - 10, Math.floor(bytes.length / 2), 1000, 10]) {
        const file = tmpFile('truncated.bin', bytes.subarray(0, keep));
        expect(() => openTorchBin(file), `${keep} bytes`).to.throw(
          /truncated\.bin: not a valid PyTorch checkpoint: .*(truncated|too short)/,
        );
      }
    });

    it('a damaged central directory pointing past the data', () => {
      const bytes = Buffer.from(
        makeZip([
          ['archive/data.pkl', goodPickle()],
          ['archive/data/0', Buffer.alloc(8)],
        ]),
      );
      const eocd = bytes.length - 22;
      bytes.writeUInt32LE(bytes.readUInt32LE(eocd + 16) + 1000, eocd + 16); // central directory offset
      expect(() => openTorchBin(tmpFile('cd.bin', bytes))).to.throw(/not a valid PyTorch checkpoint: central directory .* runs past/);
    });

    it('non-zip files, a zip without data.pkl, and the legacy format', () => {
      const json = path.join(FIX, 'blip-itm-tiny/config.json');
      expect(() => openTorchBin(json)).to.throw(`${json}: not a valid PyTorch checkpoint: not a zip archive`);
      expect(() => openTorchBin(TINY_ST)).to.throw(/not a zip archive/);
      const empty = tmpFile('empty.bin', new Uint8Array(0));
      expect(() => openTorchBin(empty)).to.throw(/too short to be a zip archive/);
      const noPkl = tmpFile('nopkl.bin', makeZip([['hello.txt', Buffer.from('hi')]]));
      expect(() => openTorchBin(noPkl)).to.throw(/no <name>\/data\.pkl record/);
      const legacy = path.join(TB, 'legacy.pt');
      expect(() => openTorchBin(legacy)).to.throw(`${legacy}: legacy (pre-torch-1.6, non-zip) torch.save format is not supported`);
    });

    it('a missing file', () => {
      expect(() => openTorchBin(path.join(tempDir('blip-itm-torch-bin-'), 'does-not-exist.bin'))).to.throw(/ENOENT/);
    });
  });
});
