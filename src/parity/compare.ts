import { RawTensor, shapeString } from '../weights/raw-tensor';

export interface TensorDiff {
  name: string;
  shape: string;
  /** max |actual - reference| */
  maxAbs: number;
  /** maxAbs divided by the reference's scale (max |reference|, or 1 when that is 0) */
  maxRel: number;
  ok: boolean;
  problem?: string;
}

export interface CompareOptions {
  /** Largest allowed maxRel (default 1e-4). */
  tol?: number;
  /** Only compare names starting with one of these prefixes. */
  only?: string[];
}

/**
 * Compares every tensor of `reference` with the same name in `actual`, llm.c style: one row a
 * tensor with its max absolute and scale-relative difference. Integer tensors must be equal.
 */
export function compareTensors(reference: Map<string, RawTensor>, actual: Map<string, RawTensor>, opts: CompareOptions = {}): TensorDiff[] {
  const tol = opts.tol ?? 1e-4;
  const rows: TensorDiff[] = [];
  for (const [name, ref] of reference) {
    if (opts.only && !opts.only.some((p) => name.startsWith(p))) continue;
    const act = actual.get(name);
    const shape = shapeString(ref.shape);
    if (!act) {
      rows.push({ name, shape, maxAbs: NaN, maxRel: NaN, ok: false, problem: 'missing' });
      continue;
    }
    if (shapeString(act.shape) !== shape) {
      rows.push({ name, shape, maxAbs: NaN, maxRel: NaN, ok: false, problem: `shape ${shapeString(act.shape)}` });
      continue;
    }
    let maxAbs = 0;
    let scale = 0;
    let nonFinite = false;
    for (let i = 0; i < ref.data.length; i++) {
      const r = ref.data[i];
      const a = act.data[i];
      const d = Math.abs(a - r);
      if (!Number.isFinite(a) && a !== r) nonFinite = true;
      if (d > maxAbs) maxAbs = d;
      if (Math.abs(r) > scale) scale = Math.abs(r);
    }
    const maxRel = maxAbs / (scale || 1);
    const exact = ref.dtype !== 'float32';
    const ok = !nonFinite && (exact ? maxAbs === 0 : maxRel <= tol);
    rows.push({ name, shape, maxAbs, maxRel, ok, problem: nonFinite ? 'non-finite values' : undefined });
  }
  return rows;
}

/** A fixed-width table of the rows, worst first within failures, for the CLI and failing tests. */
export function formatDiffs(rows: TensorDiff[]): string {
  const width = Math.max(6, ...rows.map((r) => r.name.length));
  const lines = [`${'tensor'.padEnd(width)}  ${'shape'.padEnd(18)}  ${'max|Δ|'.padStart(10)}  ${'rel'.padStart(10)}  ok`];
  for (const r of rows) {
    const abs = Number.isNaN(r.maxAbs) ? '-' : r.maxAbs.toExponential(2);
    const rel = Number.isNaN(r.maxRel) ? '-' : r.maxRel.toExponential(2);
    lines.push(
      `${r.name.padEnd(width)}  ${r.shape.padEnd(18)}  ${abs.padStart(10)}  ${rel.padStart(10)}  ${r.ok ? 'yes' : `NO${r.problem ? ` (${r.problem})` : ''}`}`,
    );
  }
  return lines.join('\n');
}
