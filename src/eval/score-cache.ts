import type * as LanceDb from '@lancedb/lancedb';
import type * as Arrow from 'apache-arrow';
import { resolveUri } from '../retrieval/dataset';
import { arrow, lancedb } from '../retrieval/lance';

/**
 * ITM logits already computed, kept in a second table (`eval_itm`) of the image index's database
 * so an interrupted `eval` resumes where it stopped (and another k_test reuses what overlaps).
 * One row per image and run: the texts it was matched with and their ITM match logits. A logit
 * depends only on the model, the image's bytes and the text, so the key is (model fingerprint,
 * sha256 of the image file, preprocessed text): a changed image is scored again.
 */
export const SCORE_TABLE = 'eval_itm';

function schema(): Arrow.Schema {
  const a = arrow();
  return new a.Schema(['model', 'image', 'texts', 'logits'].map((name) => new a.Field(name, new a.Utf8(), false)));
}

interface ScoreRow {
  model: string;
  image: string;
  texts: string;
  logits: string;
}

export class ScoreCache {
  private pending: ScoreRow[] = [];
  private readonly known = new Map<string, Map<string, number>>();

  private constructor(
    private readonly db: LanceDb.Connection,
    private readonly table: LanceDb.Table,
    private readonly model: string,
  ) {}

  static async open(where: string, fingerprint: string): Promise<ScoreCache> {
    const db = await lancedb().connect(resolveUri(where));
    let table: LanceDb.Table;
    try {
      table = (await db.tableNames()).includes(SCORE_TABLE)
        ? await db.openTable(SCORE_TABLE)
        : await db.createEmptyTable(SCORE_TABLE, schema(), { mode: 'create', existOk: true });
    } catch (e) {
      db.close();
      throw new Error(`${where}: cannot open the table of saved ITM scores (${String((e as Error).message).split('\n')[0]})`, { cause: e });
    }
    const cache = new ScoreCache(db, table, fingerprint);
    const rows = (await table
      .query()
      .where(`model = '${fingerprint.replace(/'/g, "''")}'`)
      .toArray()) as ScoreRow[];
    for (const r of rows) cache.remember(r.image, JSON.parse(r.texts) as string[], JSON.parse(r.logits) as number[]);
    return cache;
  }

  /** The saved logit of (image, text), if any. */
  get(image: string, text: string): number | undefined {
    return this.known.get(image)?.get(text);
  }

  /** Records logits; they are written by flush(). */
  put(image: string, texts: string[], logits: number[]): void {
    this.remember(image, texts, logits);
    this.pending.push({ model: this.model, image, texts: JSON.stringify(texts), logits: JSON.stringify(logits) });
  }

  get unsaved(): number {
    return this.pending.length;
  }

  async flush(): Promise<void> {
    if (!this.pending.length) return;
    await this.table.add(lancedb().makeArrowTable(this.pending as unknown as Record<string, unknown>[], { schema: schema() }));
    this.pending = [];
  }

  close(): void {
    this.table.close();
    this.db.close();
  }

  private remember(image: string, texts: string[], logits: number[]): void {
    let m = this.known.get(image);
    if (!m) this.known.set(image, (m = new Map()));
    texts.forEach((t, i) => m!.set(t, logits[i]));
  }
}
