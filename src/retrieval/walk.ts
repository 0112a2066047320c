import * as fs from 'fs';
import * as path from 'path';
import { MediaKind } from './schema';

export interface FoundFile {
  /** Absolute path. */
  path: string;
  size: number;
  mtimeMs: number;
  kind: MediaKind;
}

/** Extensions picked up inside folders (case-insensitive). Files named directly are always taken. */
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'];
/** Video extensions picked up inside folders; these files are decoded with ffmpeg. */
export const VIDEO_EXTENSIONS = ['.mp4', '.m4v', '.mov', '.mkv', '.webm', '.avi', '.mpg', '.mpeg', '.ogv', '.wmv'];

/** What a file name says the file is; null: neither (skipped inside folders). */
export function kindOfName(name: string): MediaKind | null {
  const ext = path.extname(name).toLowerCase();
  return IMAGE_EXTENSIONS.includes(ext) ? 'image' : VIDEO_EXTENSIONS.includes(ext) ? 'video' : null;
}

/**
 * The image and video files under `paths`, sorted by path. Folders are recursed, following symbolic links
 * but entering each real directory once (no loops). Hidden entries (".name") inside folders are
 * skipped: they are caches or macOS "._x.jpg" resource forks, not photos. A path given directly
 * that does not exist is an error; problems met while walking go to `warn` and are skipped.
 */
export function findMedia(paths: string[], warn: (message: string) => void = () => undefined): FoundFile[] {
  const found = new Map<string, FoundFile>();
  const visited = new Set<string>();
  // A file named directly with neither kind of extension is taken as an image, as before videos were indexed.
  const add = (file: string, st: fs.Stats) =>
    found.set(file, { path: file, size: st.size, mtimeMs: st.mtimeMs, kind: kindOfName(file) ?? 'image' });

  const walkDir = (dir: string, st: fs.Stats) => {
    const id = `${st.dev}:${st.ino}`;
    if (visited.has(id)) return; // a symlink back up the tree, or a second way to the same folder
    visited.add(id);
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
      warn(`${dir}: cannot read the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}), skipped`);
      return;
    }
    for (const d of names) {
      if (d.name.startsWith('.')) continue;
      const full = path.join(dir, d.name);
      if (!d.isDirectory() && !d.isSymbolicLink() && !(d.isFile() && kindOfName(d.name))) continue;
      let s: fs.Stats;
      try {
        s = fs.statSync(full); // follows links
      } catch (e) {
        warn(`${full}: ${d.isSymbolicLink() ? 'broken symbolic link' : 'cannot stat'} (${(e as NodeJS.ErrnoException).code}), skipped`);
        continue;
      }
      if (s.isDirectory()) walkDir(full, s);
      else if (s.isFile() && kindOfName(d.name)) add(full, s);
    }
  };

  for (const p of paths) {
    const abs = path.resolve(p);
    let st: fs.Stats;
    try {
      st = fs.statSync(abs);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new Error(`${p}: ${code === 'ENOENT' ? 'no such file or directory' : `cannot read (${code})`}`, { cause: e });
    }
    if (st.isDirectory()) walkDir(abs, st);
    else add(abs, st);
  }
  return [...found.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
