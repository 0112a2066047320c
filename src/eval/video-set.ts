import * as fs from 'fs';
import * as path from 'path';
import { EvalSet, preCaption } from './annotations';

/** BLIP's video captions go through pre_caption(caption, 40) (data/video_dataset.py). */
export const VIDEO_MAX_WORDS = 40;

/**
 * A video retrieval test set. ANN is BLIP's own `msrvtt_test.jsonl` (one `{"clip_name",
 * "caption"}` per line, the video at DIR/clip_name.mp4), so the real test set runs unchanged; or
 * a JSON list of `{"video": "relative/path", "caption": "…" | ["…", …]}`. Each entry is one video
 * (as BLIP's VideoDataset: a clip listed twice is two videos); texts are numbered entry by entry.
 * `images` holds the absolute video paths, so the image protocol's helpers apply unchanged.
 */
export function loadVideoEvalSet(annotations: string, videoRoot: string): EvalSet {
  let text: string;
  try {
    text = fs.readFileSync(annotations, 'utf8');
  } catch (e) {
    throw new Error(`${annotations}: cannot read the annotations (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, {
      cause: e,
    });
  }
  const entries = parseEntries(text, annotations);
  if (entries.length === 0) throw new Error(`${annotations}: no videos`);
  const set: EvalSet = { images: [], texts: [], txt2img: [], img2txt: [] };
  entries.forEach(({ video, captions }, i) => {
    set.images.push(path.resolve(videoRoot, video));
    set.img2txt.push([]);
    for (const c of captions) {
      set.img2txt[i].push(set.texts.length);
      set.txt2img.push(i);
      set.texts.push(preCaption(c, VIDEO_MAX_WORDS));
    }
  });
  return set;
}

function parseEntries(text: string, file: string): { video: string; captions: string[] }[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
    }
    return (list as unknown[]).map((item, i) => {
      const o = item as { video?: unknown; caption?: unknown };
      const captions = typeof o?.caption === 'string' ? [o.caption] : o?.caption;
      if (
        typeof o?.video !== 'string' ||
        !Array.isArray(captions) ||
        captions.length === 0 ||
        !captions.every((c) => typeof c === 'string')
      ) {
        throw new Error(`${file}: entry ${i} is not {"video": "path", "caption": "…" or ["…", …]}`);
      }
      return { video: o.video, captions: captions as string[] };
    });
  }
  return text
    .split('\n')
    .map((line, n) => ({ line: line.trim(), n }))
    .filter(({ line }) => line !== '')
    .map(({ line, n }) => {
      let o: { clip_name?: unknown; caption?: unknown };
      try {
        o = JSON.parse(line) as typeof o;
      } catch (e) {
        throw new Error(`${file}:${n + 1}: not a JSON line (${(e as Error).message})`, { cause: e });
      }
      if (typeof o?.clip_name !== 'string' || typeof o.caption !== 'string') {
        throw new Error(`${file}:${n + 1}: expected {"clip_name": "…", "caption": "…"} (BLIP's msrvtt_test.jsonl)`);
      }
      return { video: `${o.clip_name}.mp4`, captions: [o.caption] };
    });
}
