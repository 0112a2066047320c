/**
 * A restricted Python unpickler. It interprets the opcodes a `torch.save` state dict uses
 * (protocol 2, plus the few protocol 4 additions) and never runs anything: every global the
 * stream names goes through the caller's `findClass`, which must return a marker or throw,
 * and every call (REDUCE) or BUILD goes to the caller's hooks, which decide what the result
 * means. Lists, tuples and dicts are built as plain data.
 */

/** Values on the pickle stack. Objects made by the caller's hooks extend `PyObject`. */
export type PyValue = null | boolean | number | bigint | string | Uint8Array | PyTuple | PyList | PyDict | PyGlobal | PyObject;

export class PyTuple { constructor(readonly items: readonly PyValue[]) {} }
export class PyList { constructor(readonly items: PyValue[] = []) {} }
/** A dict (or OrderedDict: insertion order is kept either way). `state` is what BUILD set on it, if anything. */
export class PyDict {
  readonly map = new Map<DictKey, PyValue>();
  state: PyValue | undefined;
}
export type DictKey = string | number | bigint | boolean | null;
/** A global the policy allowed: a marker only, never resolved to code. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string { return `${this.module}.${this.name}`; }
}
/** Base for values the caller's hooks create (storages, tensors...). */
export abstract class PyObject {
  // A nominal brand: an empty class would structurally match every other value type.
  protected readonly pyObjectBrand = true;
}

export class PickleError extends Error {}

export interface UnpicklerHooks {
  /** Called for GLOBAL / STACK_GLOBAL: return a marker for an allowed global, or throw. */
  findClass(module: string, name: string): PyGlobal;
  /** Called for BINPERSID with the persistent id. */
  persistentLoad(pid: PyValue): PyValue;
  /** Called for REDUCE: interpret `callable(*args)` without executing anything. */
  reduce(callable: PyGlobal, args: readonly PyValue[]): PyValue;
  /** Called for BUILD (`obj.__setstate__(state)`); returns the object to leave on the stack. */
  build(obj: PyValue, state: PyValue): PyValue;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Largest LONG4 we accept: 8 KiB of digits is far past any sane integer in a checkpoint. */
const MAX_LONG_BYTES = 8192;

export function unpickle(data: Uint8Array, hooks: UnpicklerHooks): PyValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: PyValue[] = [];
  /** Stack heights at each open MARK; nothing below the innermost one may be popped. */
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;
  let opPos = 0;

  const fail = (why: string): never => { throw new PickleError(`pickle: ${why} (opcode at byte ${opPos})`); };
  const need = (n: number): void => {
    if (n < 0 || pos + n > data.length) fail(`truncated: ${n} more bytes needed, ${data.length - pos} left`);
  };
  const u8 = (): number => { need(1); return data[pos++]; };
  const u16 = (): number => { need(2); const v = view.getUint16(pos, true); pos += 2; return v; };
  const u32 = (): number => { need(4); const v = view.getUint32(pos, true); pos += 4; return v; };
  const u64 = (): number => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`length ${v} is implausibly large`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => { need(n); const b = data.subarray(pos, pos + n); pos += n; return b; };
  const text = (n: number): string => {
    const b = bytes(n);
    try { return utf8.decode(b); } catch { return fail('string is not valid UTF-8'); }
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('truncated: unterminated GLOBAL line');
    let s = '';
    for (let i = pos; i < end; i++) {
      const c = data[i];
      if (c < 0x20 || c > 0x7e) fail('GLOBAL name is not printable ASCII');
      s += String.fromCharCode(c);
    }
    pos = end + 1;
    return s;
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack[stack.length - 1];
  };
  /** Pops everything above the innermost MARK, and closes it. */
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) return fail('no MARK to pop to');
    return stack.splice(m);
  };
  const put = (idx: number): void => { memo.set(idx, top()); };
  const get = (idx: number): void => {
    const v = memo.get(idx);
    if (v === undefined) fail(`memo entry ${idx} is missing`);
    stack.push(v as PyValue);
  };
  const dictKey = (k: PyValue): DictKey => {
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
    return fail(`unsupported dict key type ${describe(k)}`);
  };
  const setItems = (d: PyValue, kv: PyValue[]): void => {
    if (!(d instanceof PyDict)) fail(`SETITEM(S) on ${describe(d)}, not a dict`);
    if (kv.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (d as PyDict).map.set(dictKey(kv[i]), kv[i + 1]);
  };
  const appendItems = (l: PyValue, items: PyValue[]): void => {
    if (!(l instanceof PyList)) fail(`APPEND(S) on ${describe(l)}, not a list`);
    // A loop, not push(...items): spreading a huge APPENDS would overflow the call stack.
    const list = (l as PyList).items;
    for (const it of items) list.push(it);
  };
  const signed = (b: Uint8Array): number | bigint => {
    // Little-endian two's complement, as LONG1/LONG4 store it.
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length && b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };

  for (;;) {
    opPos = pos;
    if (pos >= data.length) fail('truncated: no STOP opcode');
    const op = data[pos++];
    switch (op) {
      case 0x80: { const proto = u8(); if (proto > 5) fail(`unsupported protocol ${proto}`); break; } // PROTO
      case 0x95: u64(); break; // FRAME: framing is only a read-ahead hint
      case 0x2e: { // STOP
        const v = pop();
        return v;
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x5d: stack.push(new PyList()); break; // EMPTY_LIST
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: { const items = popMark(); stack.push(new PyTuple(items)); break; } // TUPLE
      case 0x85: { const a = pop(); stack.push(new PyTuple([a])); break; } // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push(new PyTuple([a, b])); break; } // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push(new PyTuple([a, b, c])); break; } // TUPLE3
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x4a: { need(4); stack.push(view.getInt32(pos, true)); pos += 4; break; } // BININT
      case 0x8a: stack.push(signed(bytes(u8()))); break; // LONG1
      case 0x8b: { // LONG4
        const n = u32();
        if (n > MAX_LONG_BYTES) fail(`LONG4 of ${n} bytes is implausibly large`);
        stack.push(signed(bytes(n)));
        break;
      }
      case 0x47: { need(8); stack.push(view.getFloat64(pos, false)); pos += 8; break; } // BINFLOAT (big-endian)
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x42: stack.push(bytes(u32()).slice()); break; // BINBYTES
      case 0x43: stack.push(bytes(u8()).slice()); break; // SHORT_BINBYTES
      case 0x8e: stack.push(bytes(u64()).slice()); break; // BINBYTES8
      case 0x71: put(u8()); break; // BINPUT
      case 0x72: put(u32()); break; // LONG_BINPUT
      case 0x94: put(memo.size); break; // MEMOIZE
      case 0x68: get(u8()); break; // BINGET
      case 0x6a: get(u32()); break; // LONG_BINGET
      case 0x30: pop(); break; // POP
      case 0x31: popMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x63: { const module = line(); const name = line(); stack.push(hooks.findClass(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(hooks.findClass(module as string, name as string));
        break;
      }
      case 0x51: stack.push(hooks.persistentLoad(pop())); break; // BINPERSID
      case 0x52: { // REDUCE
        const args = pop(); const callable = pop();
        if (!(callable instanceof PyGlobal)) fail(`REDUCE calls ${describe(callable)}, not an allowed global`);
        if (!(args instanceof PyTuple)) fail(`REDUCE arguments are ${describe(args)}, not a tuple`);
        stack.push(hooks.reduce(callable as PyGlobal, (args as PyTuple).items));
        break;
      }
      case 0x62: { const state = pop(); const obj = pop(); stack.push(hooks.build(obj, state)); break; } // BUILD
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const kv = popMark(); setItems(top(), kv); break; } // SETITEMS
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; } // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; } // APPENDS
      default:
        fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}${printable(op)}`);
    }
  }
}

function printable(op: number): string {
  return op >= 0x20 && op <= 0x7e ? ` ('${String.fromCharCode(op)}')` : '';
}

/** A short type name for error messages. */
export function describe(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return 'a str';
  if (typeof v === 'number' || typeof v === 'bigint') return 'a number';
  if (typeof v === 'boolean') return 'a bool';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PyTuple) return `a ${v.items.length}-tuple`;
  if (v instanceof PyList) return 'a list';
  if (v instanceof PyDict) return 'a dict';
  if (v instanceof PyGlobal) return v.qualified;
  return v.constructor.name;
}
