import * as path from 'path';
import { BlipItm } from '../model/blip-itm';
import { ImageEmbedding } from '../model/image-embedding';
import { checkSameModel } from './fingerprint';
import { Dims, IndexEntry, Manifest, StatesStorage, checkEndianness, readManifest } from './index-format';
import { BuildOptions, BuildReport, buildIndex } from './indexer';
import { RetrievalOptions, Scored, counts, orderReranked, topIndices } from './scoring';
import { RowReader } from './store';

export interface SearchOptions extends RetrievalOptions {
  /** Problems with single candidates (an index without states whose image is gone), one line each. */
  onWarning?: (message: string) => void;
}

export interface SearchHit {
  /** Absolute path of the image. */
  image: string;
  /** Position of the image in `entries`. */
  index: number;
  /** ITC cosine similarity with the query. */
  itc: number;
  /** ITM match probability (absent with rerank 0). */
  itm?: number;
  /** ITM match logit (absent with rerank 0). */
  itmLogit?: number;
}

/**
 * An image index opened for searching: the manifest and every ITC embedding in memory
 * (entries × embed floats), the states file open for reading candidates' rows at query time.
 * Keep one open next to a loaded model to serve many queries; close() releases the file.
 */
export class ImageIndex {
  private constructor(readonly dir: string, private readonly manifest: Manifest, private readonly reader: RowReader) {}

  /** Opens the index in `dir` (a build or a compaction running meanwhile is fine). */
  static open(dir: string): ImageIndex {
    checkEndianness();
    for (let attempt = 0; ; attempt++) {
      const m = readManifest(dir);
      if (!m) throw new Error(`${dir}: not an image index (no manifest.json; make one with blip-itm index)`);
      try {
        return new ImageIndex(path.resolve(dir), m, RowReader.open(dir, m.data, m.dims, m.states, m.rows));
      } catch (e) {
        // A compaction may have replaced the generation between reading the manifest and its files.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && attempt === 0) continue;
        throw new Error(`${dir}: cannot read the index data (${(e as Error).message})`);
      }
    }
  }

  /** Creates or updates the index in `dir` from the images under `paths` (see buildIndex), then opens it. */
  static async build(model: BlipItm, dir: string, paths: string[], opts: BuildOptions = {}): Promise<{ index: ImageIndex; report: BuildReport }> {
    const report = await buildIndex(model, dir, paths, opts);
    return { index: ImageIndex.open(dir), report };
  }

  get size(): number { return this.manifest.entries.length; }
  get entries(): readonly IndexEntry[] { return this.manifest.entries; }
  get states(): StatesStorage { return this.manifest.states; }
  get dims(): Dims { return { ...this.manifest.dims }; }
  /** The model fingerprint the index is bound to. */
  get fingerprint(): string { return this.manifest.model.fingerprint; }

  /** Throws unless `model` is the one the index was made with. */
  checkModel(model: BlipItm): void {
    checkSameModel(model, this.manifest.model, this.dir);
  }

  /** ITC cosine of a normalised query embedding with every entry: one pass over the stored matrix. */
  itcScores(query: Float32Array): Float64Array {
    const e = this.manifest.dims.embed;
    if (query.length !== e) throw new Error(`query embedding has ${query.length} values, the index ${e}`);
    const itc = this.reader.itc;
    const entries = this.manifest.entries;
    const out = new Float64Array(entries.length);
    // Over the row-major [rows, embed] matrix; four accumulators break the add dependency chain.
    const e4 = e - (e % 4);
    for (let i = 0; i < entries.length; i++) {
      const base = entries[i].row * e;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let k = 0;
      for (; k < e4; k += 4) {
        s0 += itc[base + k] * query[k];
        s1 += itc[base + k + 1] * query[k + 1];
        s2 += itc[base + k + 2] * query[k + 2];
        s3 += itc[base + k + 3] * query[k + 3];
      }
      for (; k < e; k++) s0 += itc[base + k] * query[k];
      out[i] = s0 + s1 + s2 + s3;
    }
    return out;
  }

  /**
   * The ImageEmbedding of entry i, for ITM: from the stored states, or (index without states)
   * by encoding the file again. The caller disposes it.
   */
  async embedding(model: BlipItm, i: number): Promise<ImageEmbedding> {
    const entry = this.manifest.entries[i];
    const states = this.reader.states(entry.row);
    if (states) return model.embeddingFromStates(states, this.reader.itcRow(entry.row).slice());
    return (await model.encodeImages([entry.path]))[0];
  }

  /**
   * Text → images, BLIP's way: ITC cosine of the query with every image, the best `rerank`
   * (default 16) re-scored with the ITM head and ordered by match probability; the best `topK`
   * (default 10) are returned. rerank 0: ordered by ITC alone.
   */
  async search(model: BlipItm, query: string, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const { rerank, topK, order } = counts(opts);
    if (typeof query !== 'string') throw new Error('the query must be a string');
    this.checkModel(model);
    const [q] = await model.encodeTexts([query], opts);
    const cosine = this.itcScores(q);
    let ranked: Scored[];
    if (rerank === 0) {
      ranked = topIndices(cosine, topK).map((index) => ({ index, itc: cosine[index] }));
    } else {
      const scored: Scored[] = [];
      for (const index of topIndices(cosine, rerank)) {
        let embedding: ImageEmbedding;
        try {
          embedding = await this.embedding(model, index);
        } catch (e) {
          opts.onWarning?.(`${this.manifest.entries[index].path}: ${(e as Error).message}; left out of the re-ranking`);
          continue;
        }
        try {
          const m = await model.match([embedding], [query], opts);
          scored.push({ index, itc: cosine[index], itm: m.probs[0][0], itmLogit: m.logits[0][0][1] });
        } finally {
          embedding.dispose(); // with its cached cross-attention keys/values: ~42 MB for the base model
        }
      }
      ranked = orderReranked(scored, order).slice(0, topK);
    }
    return ranked.map((s) => ({ image: this.manifest.entries[s.index].path, ...s }));
  }

  close(): void { this.reader.close(); }
}
