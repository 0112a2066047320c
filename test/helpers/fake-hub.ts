import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';

/**
 * A local stand-in for huggingface.co speaking the parts of its protocol the downloader uses:
 *   HEAD/GET /{owner}/{name}/resolve/{rev}/{file}  (rev URL-encoded, e.g. refs%2Fpr%2F5)
 *   GET /api/models/{owner}/{name}/revision/{rev}    ({ sha, siblings: [{ rfilename }] })
 *   GET /cdn/{sha256}                                 (where LFS files redirect to)
 * with X-Repo-Commit, ETag / X-Linked-Etag / X-Linked-Size, X-Error-Code and Range support,
 * plus switches that misbehave on purpose (cut, corrupt, stall, requireToken, api).
 */

export interface RecordedRequest {
  server: 'hub' | 'cdn';
  method: string;
  /** Raw request path, percent-encoding kept. */
  path: string;
  headers: http.IncomingHttpHeaders;
}

/** Close the socket after `bytes` body bytes of `file`, for the next `times` transfers. */
export interface CutSwitch {
  file: string;
  bytes: number;
  times: number;
}

interface FakeFile {
  name: string;
  data: Buffer;
  lfs: boolean;
  sha256: string;
  gitSha1: string;
}

interface FakeRepo {
  files: Map<string, FakeFile>;
  /** revision name or commit sha → commit sha */
  commits: Map<string, string>;
}

const LFS_EXTENSIONS = ['.safetensors', '.bin', '.h5'];
const DEFAULT_REVISIONS = ['main', 'refs/pr/5'];

/** Every file of a fixture directory (flat), as a repo's contents. */
export function loadRepoDir(dir: string): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const name of fs.readdirSync(dir)) out[name] = fs.readFileSync(path.join(dir, name));
  return out;
}

export function gitBlobSha1(data: Buffer): string {
  return crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

export function sha256(data: Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export class FakeHub {
  readonly requests: RecordedRequest[] = [];
  /** false: the API answers a bare 404, as a mirror without it would. */
  api = true;
  requireToken: string | undefined;
  cut: CutSwitch | undefined;
  /** Files served with one byte flipped (headers still advertise the true hashes). */
  readonly corrupt = new Set<string>();
  /** Files whose resolve requests never get an answer. */
  readonly stall = new Set<string>();

  private readonly repos = new Map<string, FakeRepo>();
  private readonly blobs = new Map<string, FakeFile>();
  private hubServer: http.Server | undefined;
  private cdnServer: http.Server | undefined;
  url = '';
  private cdnBase = '';

  static async start(repos: Record<string, Record<string, Buffer>>, opts: { cdnOnOtherHost?: boolean } = {}): Promise<FakeHub> {
    const hub = new FakeHub();
    for (const [id, files] of Object.entries(repos)) hub.addRepo(id, files);
    hub.hubServer = await listen((req, res) => hub.handle('hub', req, res));
    hub.url = `http://127.0.0.1:${(hub.hubServer.address() as AddressInfo).port}`;
    if (opts.cdnOnOtherHost) {
      hub.cdnServer = await listen((req, res) => hub.handle('cdn', req, res));
      hub.cdnBase = `http://127.0.0.1:${(hub.cdnServer.address() as AddressInfo).port}`;
    }
    return hub;
  }

  commitOf(repoId: string, revision: string): string {
    const sha = this.repos.get(repoId)?.commits.get(revision);
    if (!sha) throw new Error(`fake hub: no ${repoId}@${revision}`);
    return sha;
  }

  /** The blob name the cache should use: sha256 for LFS files, the git blob sha1 otherwise. */
  etagOf(repoId: string, file: string): string {
    const f = this.repos.get(repoId)?.files.get(file);
    if (!f) throw new Error(`fake hub: no ${repoId}/${file}`);
    return f.lfs ? f.sha256 : f.gitSha1;
  }

  async close(): Promise<void> {
    for (const s of [this.hubServer, this.cdnServer]) {
      if (!s) continue;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private addRepo(id: string, contents: Record<string, Buffer>): void {
    const files = new Map<string, FakeFile>();
    for (const [name, data] of Object.entries(contents)) {
      const f: FakeFile = {
        name,
        data,
        lfs: LFS_EXTENSIONS.some((ext) => name.endsWith(ext)),
        sha256: sha256(data),
        gitSha1: gitBlobSha1(data),
      };
      files.set(name, f);
      if (f.lfs) this.blobs.set(f.sha256, f);
    }
    const commits = new Map<string, string>();
    for (const rev of DEFAULT_REVISIONS) {
      const sha = crypto.createHash('sha1').update(`${id}@${rev}`).digest('hex');
      commits.set(rev, sha);
      commits.set(sha, sha);
    }
    this.repos.set(id, { files, commits });
  }

  private handle(server: 'hub' | 'cdn', req: http.IncomingMessage, res: http.ServerResponse): void {
    const raw = req.url ?? '/';
    this.requests.push({ server, method: req.method ?? '', path: raw, headers: req.headers });
    const segs = new URL(raw, 'http://x').pathname.split('/').slice(1);
    if (segs[0] === 'cdn') return this.serveCdn(req, res, segs[1] ?? '');
    if (server === 'cdn') return plain(res, 404, 'Not Found');
    if (this.requireToken && req.headers.authorization !== `Bearer ${this.requireToken}`) {
      return plain(res, 401, 'Invalid credentials in Authorization header');
    }
    if (segs[0] === 'api' && segs[1] === 'models' && segs[4] === 'revision' && segs.length === 6) {
      return this.serveApi(res, `${segs[2]}/${segs[3]}`, decodeURIComponent(segs[5]));
    }
    if (segs[2] === 'resolve' && segs.length >= 5) {
      const file = segs.slice(4).map(decodeURIComponent).join('/');
      return this.serveResolve(req, res, `${segs[0]}/${segs[1]}`, decodeURIComponent(segs[3]), file);
    }
    plain(res, 404, 'Not Found');
  }

  private lookup(res: http.ServerResponse, repoId: string, rev: string): { repo: FakeRepo; commit: string } | undefined {
    const repo = this.repos.get(repoId);
    if (!repo) return void plain(res, 404, 'Repository not found', 'RepoNotFound');
    const commit = repo.commits.get(rev);
    if (!commit) return void plain(res, 404, `Invalid rev id: ${rev}`, 'RevisionNotFound');
    return { repo, commit };
  }

  private serveApi(res: http.ServerResponse, repoId: string, rev: string): void {
    if (!this.api) return plain(res, 404, 'Not Found');
    const found = this.lookup(res, repoId, rev);
    if (!found) return;
    const siblings = [...found.repo.files.keys()].map((rfilename) => ({ rfilename }));
    const body = Buffer.from(JSON.stringify({ id: repoId, sha: found.commit, siblings }));
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  }

  private serveResolve(req: http.IncomingMessage, res: http.ServerResponse, repoId: string, rev: string, file: string): void {
    if (this.stall.has(file)) return; // never answer: the client's timeout must fire
    const found = this.lookup(res, repoId, rev);
    if (!found) return;
    const f = found.repo.files.get(file);
    if (!f) return plain(res, 404, 'Entry not found', 'EntryNotFound');
    if (f.lfs) {
      // Like the hub: the redirect itself carries the metadata; the CDN only has bytes.
      res.writeHead(302, {
        location: `${this.cdnBase}/cdn/${f.sha256}`,
        'x-repo-commit': found.commit,
        'x-linked-etag': `"${f.sha256}"`,
        'x-linked-size': String(f.data.length),
        etag: `"${f.gitSha1}"`,
        'content-length': 0,
      });
      return void res.end();
    }
    // Weak, quoted etag on purpose: the client must normalise it.
    this.serveBytes(req, res, f, { 'x-repo-commit': found.commit, etag: `W/"${f.gitSha1}"` });
  }

  private serveCdn(req: http.IncomingMessage, res: http.ServerResponse, sha: string): void {
    const f = this.blobs.get(sha);
    if (!f) return plain(res, 404, 'Not Found');
    this.serveBytes(req, res, f, { etag: `"${f.sha256}"` });
  }

  private serveBytes(req: http.IncomingMessage, res: http.ServerResponse, f: FakeFile, headers: http.OutgoingHttpHeaders): void {
    let data = f.data;
    if (this.corrupt.has(f.name)) {
      data = Buffer.from(f.data);
      data[data.length >> 1] ^= 0xff;
    }
    let start = 0;
    let status = 200;
    const out: http.OutgoingHttpHeaders = { ...headers, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' };
    const rangeHeader = req.headers.range;
    if (rangeHeader) {
      const m = /^bytes=(\d+)-$/.exec(rangeHeader);
      if (!m || Number(m[1]) >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}`, 'content-length': 0 });
        return void res.end();
      }
      start = Number(m[1]);
      status = 206;
      out['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    }
    const body = data.subarray(start);
    out['content-length'] = body.length;
    res.writeHead(status, out);
    if (req.method === 'HEAD') return void res.end();
    const cut = this.cut;
    if (cut && cut.file === f.name && cut.times > 0 && cut.bytes < body.length) {
      cut.times--;
      res.write(body.subarray(0, cut.bytes), () => res.socket?.destroy());
      return;
    }
    res.end(body);
  }
}

function plain(res: http.ServerResponse, status: number, message: string, errorCode?: string): void {
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain', 'x-error-message': message };
  if (errorCode) headers['x-error-code'] = errorCode;
  res.writeHead(status, headers);
  res.end(message);
}

function listen(handler: http.RequestListener): Promise<http.Server> {
  const server = http.createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
