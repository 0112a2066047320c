import { ByteReader } from './source';
import { RawTensor, TensorSource, decodeElements, numel, rawDTypeOf, shapeString } from './raw-tensor';
import { PickleError, PyDict, PyGlobal, PyList, PyObject, PyTuple, PyValue, UnpicklerHooks, describe, unpickle } from './pickle';
import { ZipEntry, ZipFormatError, ZipReader, readFully } from './zip';

/**
 * PyTorch `pytorch_model.bin` as written by `torch.save` since torch 1.6: a zip archive with
 * `<name>/data.pkl` (the pickled state dict), `<name>/data/<key>` (one raw storage per key)
 * and small records (`version`, `byteorder`, ...). The pickle is interpreted by a restricted
 * unpickler that accepts only the globals a state dict needs; rebuild calls become tensor
 * descriptors and nothing is ever executed. Storages are read from the open file only when a
 * tensor is asked for.
 */

// Lookups keyed by names from the file use Maps, not object literals: `'constructor' in {}` is true.

/** Storage classes torch pickles (qualified name) → the safetensors dtype name of their elements. */
const STORAGE_DTYPES = new Map<string, string>([
  ['torch.FloatStorage', 'F32'], ['torch.DoubleStorage', 'F64'], ['torch.HalfStorage', 'F16'], ['torch.BFloat16Storage', 'BF16'],
  ['torch.LongStorage', 'I64'], ['torch.IntStorage', 'I32'], ['torch.ShortStorage', 'I16'], ['torch.CharStorage', 'I8'],
  ['torch.ByteStorage', 'U8'], ['torch.BoolStorage', 'BOOL'],
  // Untyped storages (used with _rebuild_tensor_v3) count bytes; the tensor carries its dtype.
  ['torch.storage.UntypedStorage', 'U8'], ['torch.UntypedStorage', 'U8'],
]);

/** `torch.<dtype>` globals (arguments of _rebuild_tensor_v3). Ones decodeElements lacks fail on read, not on open. */
const TORCH_DTYPES = new Map<string, string>(Object.entries({
  float32: 'F32', float: 'F32', float64: 'F64', double: 'F64', float16: 'F16', half: 'F16', bfloat16: 'BF16',
  int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
  uint16: 'U16', uint32: 'U32', uint64: 'U64', float8_e4m3fn: 'F8_E4M3', float8_e5m2: 'F8_E5M2',
}).map(([k, v]) => [`torch.${k}`, v]));

const ITEM_SIZE: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
  U16: 2, U32: 4, U64: 8, F8_E4M3: 1, F8_E5M2: 1,
};

const REBUILD_FUNCTIONS = new Set([
  '_rebuild_tensor', '_rebuild_tensor_v2', '_rebuild_tensor_v3', '_rebuild_parameter', '_rebuild_parameter_with_state',
].map((n) => `torch._utils.${n}`));

/** Legacy (pre-1.6) torch.save streams start with protocol 2 and this LONG1 magic number. */
const LEGACY_MAGIC = Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);

/**
 * data.pkl of a BERT/ViT state dict is tens of KB (about 200 bytes a tensor): 16 MB is far past
 * any real one, and bounds what a deflate bomb can cost (pure-JS inflate runs at ~10 MB/s on it).
 */
const MAX_PICKLE_BYTES = 16 * 1024 * 1024;
/** Typed arrays beyond this are not worth attempting: far past any tensor in these models. */
const MAX_READ_ELEMENTS = 2 ** 31 - 1;

class StorageRef extends PyObject {
  constructor(readonly key: string, readonly dtype: string, readonly bytes: number, readonly location: string) { super(); }
}

class TensorRef extends PyObject {
  constructor(readonly storage: StorageRef, readonly dtype: string, readonly offset: number,
    readonly shape: number[], readonly stride: number[]) { super(); }
}

interface TensorInfo {
  dtype: string;
  itemSize: number;
  shape: number[];
  stride: number[];
  /** Element offset into the storage. */
  offset: number;
  /** Elements from `offset` to the last one the view touches (inclusive), 0 when empty. */
  span: number;
  contiguous: boolean;
  entry: ZipEntry;
}

export class TorchBinFile implements TensorSource {
  /** Top-level dict entries that are not tensors (skipped). */
  readonly ignoredKeys: string[];
  private bytes: ByteReader | null;

  private constructor(readonly file: string, bytes: ByteReader, private readonly zip: ZipReader,
    private readonly tensors: Map<string, TensorInfo>, ignoredKeys: string[], readonly bigEndian: boolean) {
    this.bytes = bytes;
    this.ignoredKeys = ignoredKeys;
  }

  /** Parses the archive read through `bytes` (which the result then owns: close() closes it). */
  static fromBytes(bytes: ByteReader): TorchBinFile {
    try {
      return TorchBinFile.load(bytes.name, bytes);
    } catch (e) {
      const explained = e instanceof ZipFormatError ? new Error(explainNonZip(bytes, e)) : e;
      bytes.close();
      throw explained;
    }
  }

  private static load(file: string, bytes: ByteReader): TorchBinFile {
    const fail = (why: string): never => { throw new Error(`${file}: not a valid PyTorch checkpoint: ${why}`); };
    const zip = ZipReader.open(bytes, file);

    // torch names the top folder after the file it first saved to; find it from data.pkl.
    const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length === 0) fail('the zip archive has no <name>/data.pkl record (not written by torch.save?)');
    if (pkls.length > 1) fail(`the zip archive has several data.pkl records (${pkls.join(', ')})`);
    const prefix = pkls[0].slice(0, -'data.pkl'.length);

    let bigEndian = false;
    const order = zip.get(`${prefix}byteorder`);
    if (order) {
      const v = zip.readChecked(order).toString('latin1').trim();
      if (v !== 'little' && v !== 'big') fail(`unknown byteorder record ${JSON.stringify(v)}`);
      bigEndian = v === 'big';
    }

    const pklEntry = zip.get(pkls[0]) as ZipEntry;
    if (pklEntry.size > MAX_PICKLE_BYTES) fail(`data.pkl of ${pklEntry.size} bytes is implausibly large`);
    const pkl = zip.readChecked(pklEntry);

    const storages = new Map<string, StorageRef>();
    let root: PyValue;
    try {
      root = unpickle(pkl, restrictedHooks(storages));
    } catch (e) {
      if (e instanceof RefusedGlobal) throw new Error(`${file}: refusing to load: ${e.message}`, { cause: e });
      if (e instanceof PickleError) fail(`${pkls[0]}: ${e.message}`);
      throw e;
    }

    let dict = root;
    if (!(dict instanceof PyDict)) return fail(`data.pkl holds ${describe(root)}, not a state dict`);
    // Training checkpoints wrap the state dict ({'model': ..., 'optimizer': ...}); take the weights.
    if (![...dict.map.values()].some((v) => v instanceof TensorRef)) {
      for (const k of ['state_dict', 'model']) {
        const inner = dict.map.get(k);
        if (inner instanceof PyDict) { dict = inner; break; }
      }
    }

    const tensors = new Map<string, TensorInfo>();
    const ignored: string[] = [];
    for (const [k, v] of dict.map) {
      if (typeof k !== 'string' || !(v instanceof TensorRef)) { ignored.push(String(k)); continue; }
      tensors.set(k, describeTensor(file, prefix, zip, k, v));
    }
    return new TorchBinFile(file, bytes, zip, tensors, ignored, bigEndian);
  }

  keys(): string[] { return [...this.tensors.keys()]; }
  has(key: string): boolean { return this.tensors.has(key); }
  shape(key: string): number[] { return [...this.info(key).shape]; }
  storedDType(key: string): string { return this.info(key).dtype; }

  read(key: string): RawTensor {
    const t = this.info(key);
    if (this.bytes === null) throw new Error(`${this.file}: already closed`);
    const where = `${this.file}: ${key}`;
    const n = numel(t.shape);
    if (n > MAX_READ_ELEMENTS) throw new Error(`${where}: ${n} elements is too many to read into one array`);
    const shape = [...t.shape];
    const dtype = rawDTypeOf(t.dtype);
    if (n === 0) return { dtype, shape, data: dtype === 'float32' ? new Float32Array(0) : dtype === 'int32' ? new Int32Array(0) : new Uint8Array(0) };

    // Fast path, the common case: a contiguous 4-byte view is read straight into its output array.
    if (t.contiguous && (t.dtype === 'F32' || t.dtype === 'I32')) {
      const data = t.dtype === 'F32' ? new Float32Array(n) : new Int32Array(n);
      const bytes = new Uint8Array(data.buffer);
      this.zip.readRange(t.entry, t.offset * 4, n * 4, bytes);
      if (this.bigEndian) Buffer.from(data.buffer).swap32();
      return { dtype, shape, data };
    }

    const raw = this.zip.readRange(t.entry, t.offset * t.itemSize, t.span * t.itemSize);
    if (this.bigEndian) swapBytes(raw, t.itemSize);
    let src = decodeElements(raw, t.dtype, t.span, where);
    // U8/BOOL come back as a Buffer view; hand out a plain Uint8Array like the other paths.
    if (Buffer.isBuffer(src)) src = new Uint8Array(src.buffer, src.byteOffset, src.length);
    if (t.contiguous) return { dtype, shape, data: src };
    return { dtype, shape, data: gather(src, n, t.shape, t.stride) };
  }

  close(): void {
    this.bytes?.close();
    this.bytes = null;
  }

  private info(key: string): TensorInfo {
    const t = this.tensors.get(key);
    if (!t) throw new Error(`${this.file}: no tensor named ${key}`);
    return t;
  }
}

/** Raised by findClass; caught in open() to prefix the file name. */
class RefusedGlobal extends Error {}

/** The whole policy: which globals exist, and what the allowed calls mean. */
function restrictedHooks(storages: Map<string, StorageRef>): UnpicklerHooks {
  const bad = (why: string): never => { throw new PickleError(why); };
  const int = (v: PyValue, what: string): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) return bad(`${what} is ${describe(v)} ${String(v)}, not a non-negative integer`);
    return v;
  };
  const ints = (v: PyValue, what: string): number[] => {
    if (!(v instanceof PyTuple) && !(v instanceof PyList)) return bad(`${what} is ${describe(v)}, not a tuple`);
    return v.items.map((x, i) => int(x, `${what}[${i}]`));
  };
  const tensor = (args: readonly PyValue[], dtype: string | null, fn: string): TensorRef => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) return bad(`${fn}: storage argument is ${describe(storage)}`);
    const shape = ints(size, `${fn} size`);
    const strides = ints(stride, `${fn} stride`);
    if (shape.length !== strides.length) bad(`${fn}: size ${shapeString(shape)} and stride ${shapeString(strides)} differ in rank`);
    return new TensorRef(storage, dtype ?? storage.dtype, int(offset, `${fn} storage offset`), shape, strides);
  };

  return {
    findClass(module: string, name: string): PyGlobal {
      const q = `${module}.${name}`;
      if (q !== 'collections.OrderedDict' && !REBUILD_FUNCTIONS.has(q) && !STORAGE_DTYPES.has(q) && !TORCH_DTYPES.has(q)) {
        throw new RefusedGlobal(`pickle references ${module}.${name} (only torch tensor rebuild functions, storage and dtype types and collections.OrderedDict are allowed)`);
      }
      return new PyGlobal(module, name);
    },

    persistentLoad(pid: PyValue): PyValue {
      // ('storage', torch.<T>Storage, key, location, numel)
      if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
        return bad(`persistent id is ${describe(pid)}, not a ('storage', type, key, location, numel) tuple`);
      }
      const [, type, key, location, count] = pid.items;
      const dtype = type instanceof PyGlobal ? STORAGE_DTYPES.get(type.qualified) : undefined;
      if (dtype === undefined) return bad(`persistent id names storage type ${describe(type)}`);
      if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) return bad(`storage key ${JSON.stringify(key)} is not a plain name`);
      const bytes = int(count, `storage ${key} size`) * ITEM_SIZE[dtype];
      const seen = storages.get(key);
      if (seen) {
        // torch.save refuses to write one storage under two dtypes, so a mismatch means a damaged file.
        if (seen.dtype !== dtype || seen.bytes !== bytes) bad(`storage ${key} is described twice, differently`);
        return seen;
      }
      const ref = new StorageRef(key, dtype, bytes, typeof location === 'string' ? location : '');
      storages.set(key, ref);
      return ref;
    },

    reduce(callable: PyGlobal, args: readonly PyValue[]): PyValue {
      const fn = callable.qualified;
      switch (fn) {
        case 'collections.OrderedDict': {
          const d = new PyDict();
          if (args.length === 0) return d;
          // OrderedDict([(k, v), ...])
          const [pairs] = args;
          if (args.length !== 1 || !(pairs instanceof PyList || pairs instanceof PyTuple)) return bad('OrderedDict called with unexpected arguments');
          for (const p of pairs.items) {
            if (!(p instanceof PyTuple) || p.items.length !== 2 || typeof p.items[0] !== 'string') return bad('OrderedDict item is not a (str, value) pair');
            d.map.set(p.items[0], p.items[1]);
          }
          return d;
        }
        case 'torch._utils._rebuild_tensor':
          if (args.length !== 4) bad(`${fn} takes 4 arguments, got ${args.length}`);
          return tensor(args, null, fn);
        case 'torch._utils._rebuild_tensor_v2':
          // (storage, offset, size, stride, requires_grad, backward_hooks[, metadata]): the rest is autograd bookkeeping.
          if (args.length !== 6 && args.length !== 7) bad(`${fn} takes 6 or 7 arguments, got ${args.length}`);
          return tensor(args, null, fn);
        case 'torch._utils._rebuild_tensor_v3': {
          // (untyped storage, offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
          if (args.length !== 7 && args.length !== 8) bad(`${fn} takes 7 or 8 arguments, got ${args.length}`);
          const dt = args[6];
          const dtype = dt instanceof PyGlobal ? TORCH_DTYPES.get(dt.qualified) : undefined;
          if (dtype === undefined) return bad(`${fn}: dtype argument is ${describe(dt)}`);
          return tensor(args, dtype, fn);
        }
        case 'torch._utils._rebuild_parameter':
        case 'torch._utils._rebuild_parameter_with_state': {
          // A Parameter is its data tensor; requires_grad, hooks and Python state don't matter here.
          const [data] = args;
          if (!(data instanceof TensorRef)) return bad(`${fn}: data argument is ${describe(data)}`);
          return data;
        }
        default:
          return bad(`refusing to call ${fn}`);
      }
    },

    build(obj: PyValue, state: PyValue): PyValue {
      // state_dict() OrderedDicts carry a `_metadata` attribute (module versions): keep it, it is data.
      if (obj instanceof PyDict) { obj.state = state; return obj; }
      return bad(`BUILD on ${describe(obj)}`);
    },
  };
}

/** Validates a descriptor against its storage record now, so read() only fails on I/O. */
function describeTensor(file: string, prefix: string, zip: ZipReader, key: string, t: TensorRef): TensorInfo {
  const fail = (why: string): never => { throw new Error(`${file}: tensor ${key}: ${why}`); };
  const itemSize = ITEM_SIZE[t.dtype];
  const entryName = `${prefix}data/${t.storage.key}`;
  const entry = zip.get(entryName);
  if (!entry) return fail(`its storage ${entryName} is missing from the archive`);
  zip.dataStart(entry); // checks the member lies inside the file (catches truncation now)
  const n = numel(t.shape);
  let span = 0;
  if (n > 0) {
    span = 1;
    for (let i = 0; i < t.shape.length; i++) span += (t.shape[i] - 1) * t.stride[i];
  }
  const storageBytes = Math.min(t.storage.bytes, entry.size);
  const needBytes = (t.offset + span) * itemSize;
  if (n > 0 && needBytes > storageBytes) {
    fail(`${t.dtype} ${shapeString(t.shape)} at offset ${t.offset} with stride ${shapeString(t.stride)} needs ${needBytes} bytes of storage ${t.storage.key}, which has ${storageBytes}`);
  }
  if (!Number.isSafeInteger(needBytes)) fail('sizes are implausibly large');
  return { dtype: t.dtype, itemSize, shape: t.shape, stride: t.stride, offset: t.offset, span, contiguous: isRowMajor(t.shape, t.stride), entry };
}

/** Row-major contiguous? Strides of size-1 dimensions don't matter (torch leaves them arbitrary). */
function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 0) return true;
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

type Elements = RawTensor['data'];

/** Copies a strided view (indices relative to its first element) into a fresh row-major array. */
function gather(src: Elements, n: number, shape: readonly number[], stride: readonly number[]): Elements {
  const out: Elements = src instanceof Float32Array ? new Float32Array(n) : src instanceof Int32Array ? new Int32Array(n) : new Uint8Array(n);
  const nd = shape.length;
  const lastN = shape[nd - 1];
  const lastS = stride[nd - 1];
  const idx = new Array<number>(nd).fill(0);
  let base = 0;
  let o = 0;
  for (let row = 0, rows = n / lastN; row < rows; row++) {
    for (let j = 0; j < lastN; j++) out[o++] = src[base + j * lastS];
    // Odometer over the outer dimensions.
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      base += stride[d];
      if (idx[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

function swapBytes(b: Uint8Array, size: number): void {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (size === 2) buf.swap16();
  else if (size === 4) buf.swap32();
  else if (size === 8) buf.swap64();
}

/** Turns "not a zip" into a message that says what the file is, when we can tell. */
function explainNonZip(bytes: ByteReader, e: ZipFormatError): string {
  const file = bytes.name;
  let head = new Uint8Array(0);
  try {
    head = new Uint8Array(Math.min(bytes.size, 512));
    readFully(bytes, head, 0, file, 'the header');
  } catch { /* keep the zip error */ }
  const starts = (sig: Uint8Array): boolean => head.length >= sig.length && sig.every((b, i) => head[i] === b);
  if (starts(LEGACY_MAGIC)) {
    return `${file}: legacy (pre-torch-1.6, non-zip) torch.save format is not supported; re-save it with a current torch.save or convert it to safetensors`;
  }
  if (head.length >= 262 && Buffer.from(head.subarray(257, 262)).toString('latin1') === 'ustar') {
    return `${file}: tar-format torch.save checkpoint (torch < 0.4) is not supported; re-save it with a current torch.save or convert it to safetensors`;
  }
  const msg = e.message.startsWith(`${file}: `) ? e.message.slice(file.length + 2) : e.message;
  return `${file}: not a valid PyTorch checkpoint: ${msg}`;
}
