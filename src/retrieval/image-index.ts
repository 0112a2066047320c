import { BlipItm } from '../model/blip-itm';
import { Dataset, resolveUri } from './dataset';
import { checkSameModel } from './fingerprint';
import { BuildOptions, BuildReport, buildIndex, latestByPath } from './indexer';
import { Dims, IndexEntry, MEDIA_KINDS, MediaKind, StatesStorage, checkEndianness, statesRowBytes } from './schema';
import { RetrievalOptions, Scored, counts, orderReranked, topIndices } from './scoring';

export interface SearchOptions extends RetrievalOptions {
  /** ANN only: IVF partitions searched (default 20). */
  nprobes?: number;
  /** ANN only: PQ candidates re-ranked by exact distance per result wanted (default 50). */
  refineFactor?: number;
  /** Only images, or only videos (default: both). */
  kind?: MediaKind;
}

export interface SearchHit {
  /** Absolute path of the image or video (the name predates videos). */
  image: string;
  kind: MediaKind;
  /** Frames the row holds: 1 for an image, a video's sampled frames. */
  frames: number;
  /** Position of the image in the shortlist's candidates (ITC order). */
  index: number;
  /** ITC cosine similarity with the query. */
  itc: number;
  /** ITM match probability (absent with rerank 0). */
  itm?: number;
  /** ITM match logit (absent with rerank 0). */
  itmLogit?: number;
}

/** A hit as `search --json` and the server print it: a video's row says so and how many frames it holds. */
export function hitRecord(h: SearchHit): Record<string, string | number> {
  const row: Record<string, string | number> = { image: h.image, kind: h.kind };
  if (h.kind === 'video') row.frames = h.frames;
  row.itc = h.itc;
  if (h.itm !== undefined) row.itm = h.itm;
  return row;
}

/** A shortlist candidate: its row and exact ITC cosine. */
interface Candidate {
  entry: IndexEntry;
  vector: Float32Array;
  itc: number;
}

export const DEFAULT_NPROBES = 20;
/** Refine 10 found 38–44 % of the exact top 16 at 10^6 clustered rows, refine 50 all of it (109 vs 36 ms): docs/retrieval-scale.md. */
export const DEFAULT_REFINE_FACTOR = 50;
/** Fewest candidates taken from the vector index: recall@16 of a 16-row pool was 0.87 at 10^5 rows, of a 100-row pool 1.0. */
const ANN_POOL = 100;
/** Re-ranking reads candidates' states in groups of at most this many bytes (one base-model video at 8 frames: 14 MB in float32). */
const RERANK_READ_BYTES = 64 << 20;

function dot64(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function byPath(a: IndexEntry, b: IndexEntry): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * An image index (a LanceDB table, see FORMAT.md) opened for searching. Small tables (no vector
 * index) are searched exactly: every ITC vector, verified, is held in memory after the first
 * query. Large ones go through the IVF-PQ index for a shortlist whose cosines are then computed
 * exactly. Re-ranking reads the candidates' stored states. Keep one open next to a loaded model
 * to serve many queries; close() releases it.
 */
export class ImageIndex {
  private exact: { entries: IndexEntry[]; vectors: Float32Array[] } | null = null;
  private ann: boolean | null = null;
  private readonly checked = new WeakSet<BlipItm>();
  private closed = false;

  private constructor(private readonly dataset: Dataset) {}

  /** Opens the index at `where` (a folder or an object store URI); builds running meanwhile are fine. */
  static async open(where: string): Promise<ImageIndex> {
    checkEndianness();
    const uri = resolveUri(where);
    const dataset = await Dataset.open(uri);
    if (!dataset) throw new Error(`${uri}: not an image index (make one with blip-itm index)`);
    return new ImageIndex(dataset);
  }

  /** Creates or updates the index at `where` from the images under `paths` (see buildIndex), then opens it. */
  static async build(
    model: BlipItm,
    where: string,
    paths: string[],
    opts: BuildOptions = {},
  ): Promise<{ index: ImageIndex; report: BuildReport }> {
    const report = await buildIndex(model, where, paths, opts);
    return { index: await ImageIndex.open(where), report };
  }

  get uri(): string {
    return this.dataset.uri;
  }
  get states(): StatesStorage {
    return this.dataset.meta.states;
  }
  get dims(): Dims {
    return { ...this.dataset.meta.dims };
  }
  /** The model fingerprint the index is bound to. */
  get fingerprint(): string {
    return this.dataset.meta.model.fingerprint;
  }

  /** The indexed images, one per path (the newest row where two writers added one), sorted by path. */
  async entries(): Promise<IndexEntry[]> {
    this.checkOpen();
    return [...latestByPath(await this.dataset.scanEntries()).latest.values()].sort(byPath);
  }

  async size(): Promise<number> {
    return (await this.entries()).length;
  }

  /** Throws one line when the index holds no image or video (a search would have nothing to rank). */
  async requireImages(): Promise<void> {
    this.checkOpen();
    if ((await this.dataset.count()) === 0) throw new Error(`${this.uri}: the index holds no images (add some with blip-itm index)`);
  }

  /** Whether searches go through the ANN vector index. */
  async approximate(): Promise<boolean> {
    this.checkOpen();
    if (this.ann === null) this.ann = await this.dataset.hasVectorIndex();
    return this.ann;
  }

  /** Throws unless `model` is the one the index was made with. */
  checkModel(model: BlipItm): void {
    this.checkOpen();
    if (this.checked.has(model)) return;
    checkSameModel(model, this.dataset.meta.model, this.uri);
    this.checked.add(model);
  }

  /** The `n` best images and videos (`opts.kind`: of that kind) for a normalised query embedding by ITC cosine, best first (ties: by path). */
  async shortlist(query: Float32Array, n: number, opts: SearchOptions = {}): Promise<Candidate[]> {
    this.checkOpen();
    const e = this.dataset.dims.embed;
    if (query.length !== e) throw new Error(`query embedding has ${query.length} values, the index ${e}`);
    if (opts.kind !== undefined && !MEDIA_KINDS.includes(opts.kind))
      throw new Error(`kind must be ${MEDIA_KINDS.join(' or ')}, got ${opts.kind}`);
    if (await this.approximate()) {
      const refine = opts.refineFactor ?? DEFAULT_REFINE_FACTOR;
      // At least ANN_POOL candidates (PQ distances are coarse: a small pool misses near ties), a few
      // extra in case two writers left one path twice; all re-scored exactly below.
      const pool = Math.max(n + 4, ANN_POOL);
      const found = await this.dataset.nearest(query, pool, opts.nprobes ?? DEFAULT_NPROBES, refine, opts.kind);
      const { latest } = latestByPath(found.entries);
      const cands = found.entries
        .map((entry, i) => ({ entry, vector: found.vectors[i], itc: dot64(found.vectors[i], query) }))
        .filter((c) => latest.get(c.entry.path) === c.entry);
      cands.sort((a, b) => b.itc - a.itc || byPath(a.entry, b.entry));
      return cands.slice(0, n);
    }
    const { entries, vectors } = ofKind(await this.exactRows(), opts.kind);
    const cosine = vectors.map((v) => dot64(v, query));
    return topIndices(cosine, n).map((i) => ({ entry: entries[i], vector: vectors[i], itc: cosine[i] }));
  }

  /**
   * Text → images and videos, BLIP's way: the best `rerank` (default 16) by ITC cosine, re-scored
   * with the ITM head from their stored states (a video: all its sampled frames, as `score
   * --video`) and ordered by match probability; the best `topK` (default 10) are returned.
   * rerank 0: ordered by ITC alone.
   */
  async search(model: BlipItm, query: string, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const { rerank, topK, order } = counts(opts);
    this.checkModel(model);
    await this.requireImages();
    const [q] = await model.encodeTexts([query], opts);
    const cands = await this.shortlist(q, rerank === 0 ? topK : rerank, opts);
    let ranked: Scored[];
    if (rerank === 0) {
      ranked = cands.map((c, index) => ({ index, itc: c.itc }));
    } else {
      const scored: Scored[] = [];
      for (const group of this.readGroups(cands)) {
        const rows = new Map((await this.dataset.fetch(group.map((c) => c.entry))).map((r) => [`${r.path}\0${r.run}`, r]));
        for (const c of group) {
          const row = rows.get(`${c.entry.path}\0${c.entry.run}`);
          if (!row) continue; // deleted by a writer since the shortlist was taken
          rows.delete(`${c.entry.path}\0${c.entry.run}`); // its states can go once scored
          const embedding = await model.embeddingFromStates(row.states, row.vector);
          try {
            const m = await model.match([embedding], [query], opts);
            scored.push({ index: cands.indexOf(c), itc: c.itc, itm: m.probs[0][0], itmLogit: m.logits[0][0][1] });
          } finally {
            embedding.dispose(); // with its cached cross-attention keys/values: ~42 MB for a base-model image, frames times that for a video
          }
        }
      }
      ranked = orderReranked(scored, order).slice(0, topK);
    }
    return ranked.map((s) => {
      const { path, kind, frames } = cands[s.index].entry;
      return { image: path, kind, frames, ...s };
    });
  }

  /** The candidates in groups whose stored states fit RERANK_READ_BYTES (a group holds at least one). */
  private readGroups(cands: Candidate[]): Candidate[][] {
    const groups: Candidate[][] = [];
    let bytes = Infinity;
    for (const c of cands) {
      const size = statesRowBytes(this.dataset.dims, this.dataset.meta.states, c.entry.frames);
      if (bytes + size > RERANK_READ_BYTES) {
        groups.push([]);
        bytes = 0;
      }
      groups[groups.length - 1].push(c);
      bytes += size;
    }
    return groups;
  }

  /** Every image's verified ITC vector, by path. */
  async vectors(): Promise<Map<string, Float32Array>> {
    this.checkOpen();
    const { entries, vectors } = await this.exactRows();
    return new Map(entries.map((e, i) => [e.path, vectors[i]]));
  }

  /** Rows with their vectors and decoded states, verified (for evaluation and re-ranking). */
  async rows(entries: readonly IndexEntry[]) {
    this.checkOpen();
    return this.dataset.fetch(entries);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.exact = null;
    this.dataset.close();
  }

  private async exactRows(): Promise<{ entries: IndexEntry[]; vectors: Float32Array[] }> {
    if (!this.exact) {
      const all = await this.dataset.scanVectors();
      const { latest } = latestByPath(all.entries);
      const order = all.entries
        .map((_, i) => i)
        .filter((i) => latest.get(all.entries[i].path) === all.entries[i])
        .sort((a, b) => byPath(all.entries[a], all.entries[b]));
      this.exact = { entries: order.map((i) => all.entries[i]), vectors: order.map((i) => all.vectors[i]) };
    }
    return this.exact;
  }

  /** Videos, when the index was made before they were (format 3), are none. */
  get videoFrames(): number | undefined {
    return this.dataset.meta.videoFrames;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error(`${this.uri}: the image index is closed (open it again with ImageIndex.open)`);
  }
}

/** The rows of one kind (all when `kind` is undefined). */
function ofKind(rows: { entries: IndexEntry[]; vectors: Float32Array[] }, kind: MediaKind | undefined) {
  if (kind === undefined) return rows;
  const keep = rows.entries.map((e, i) => (e.kind === kind ? i : -1)).filter((i) => i >= 0);
  return { entries: keep.map((i) => rows.entries[i]), vectors: keep.map((i) => rows.vectors[i]) };
}
