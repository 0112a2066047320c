import * as fs from 'fs';
import * as path from 'path';

/**
 * The huggingface_hub cache layout, so that Python and this package share downloads:
 *   {cache}/models--{owner}--{name}/blobs/{etag}             file contents, named by etag
 *   {cache}/models--{owner}--{name}/snapshots/{commit}/{file} relative symlink to the blob
 *   {cache}/models--{owner}--{name}/refs/{revision}          the commit sha of a branch/tag/PR
 *   {cache}/models--{owner}--{name}/.no_exist/{commit}/{file} marker: the file is not in that commit
 */

export const COMMIT_RE = /^[0-9a-f]{40}$/;

/** Hub rules (huggingface_hub validate_repo_id): word chars, '-', '.'; no '--' or '..'. */
const PART = '[A-Za-z0-9_](?:[\\w.-]{0,94}[A-Za-z0-9_])?';
const REPO_ID_RE = new RegExp(`^${PART}/${PART}$`);

export function validateRepoId(repoId: string): void {
  if (!REPO_ID_RE.test(repoId) || repoId.includes('--') || repoId.includes('..') || repoId.endsWith('.git')) {
    throw new Error(
      `invalid Hugging Face repo id "${repoId}": expected owner/name ` +
        `(letters, digits, '_', '-', '.'; no '--' or '..'), e.g. Salesforce/blip-itm-base-coco`,
    );
  }
}

/** A repo file name becomes a path under snapshots/, so it must stay inside it. */
export function validateRepoFile(file: string): void {
  const parts = file.split('/');
  if (file === '' || parts.some((p) => p === '' || p === '.' || p === '..') || /[\\\0]/.test(file)) {
    throw new Error(`unsafe file name in repo: "${file}"`);
  }
}

export class RepoCache {
  readonly root: string;

  constructor(
    cacheDir: string,
    readonly repoId: string,
  ) {
    this.root = path.join(cacheDir, `models--${repoId.split('/').join('--')}`);
  }

  blobPath(etag: string): string {
    return path.join(this.root, 'blobs', etag);
  }

  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`;
  }

  snapshotDir(commit: string): string {
    return path.join(this.root, 'snapshots', commit);
  }

  pointerPath(commit: string, file: string): string {
    return path.join(this.snapshotDir(commit), ...file.split('/'));
  }

  /** True when the snapshot entry exists and (for a symlink) its blob is still there. */
  hasFile(commit: string, file: string): boolean {
    return fs.existsSync(this.pointerPath(commit, file));
  }

  /** Read refs/{revision}; `refs/pr/5` lives at refs/refs/pr/5 as in huggingface_hub. */
  readRef(revision: string): string | undefined {
    try {
      const sha = fs.readFileSync(this.refPath(revision), 'utf8').trim();
      return COMMIT_RE.test(sha) ? sha : undefined;
    } catch {
      return undefined;
    }
  }

  writeRef(revision: string, commit: string): void {
    if (revision === commit || this.readRef(revision) === commit) return;
    const file = this.refPath(revision);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Write then rename so a reader never sees a half-written sha.
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, commit);
    fs.renameSync(tmp, file);
  }

  /** Remember a 404 so a later run with a commit sha knows the file was looked for. */
  markMissing(commit: string, file: string): void {
    const marker = path.join(this.root, '.no_exist', commit, ...file.split('/'));
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    fs.writeFileSync(marker, '');
  }

  isMarkedMissing(commit: string, file: string): boolean {
    return fs.existsSync(path.join(this.root, '.no_exist', commit, ...file.split('/')));
  }

  /** Point snapshots/{commit}/{file} at blobs/{etag}: a relative symlink, or a copy where links fail. */
  linkBlob(etag: string, commit: string, file: string): string {
    const blob = this.blobPath(etag);
    const pointer = this.pointerPath(commit, file);
    fs.mkdirSync(path.dirname(pointer), { recursive: true });
    fs.rmSync(pointer, { force: true }); // a dangling link from a deleted blob would block symlink()
    try {
      fs.symlinkSync(path.relative(path.dirname(pointer), blob), pointer);
    } catch {
      // Windows without developer mode, some network/FAT filesystems: duplicate the bytes instead.
      const tmp = `${pointer}.${process.pid}.tmp`;
      fs.copyFileSync(blob, tmp);
      fs.renameSync(tmp, pointer);
    }
    return pointer;
  }

  private refPath(revision: string): string {
    return path.join(this.root, 'refs', ...revision.split('/'));
  }
}
