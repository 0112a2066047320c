import { expect } from 'chai';
import * as fs from 'fs';
import * as http from 'http';
import { AddressInfo } from 'net';
import * as path from 'path';

import { HubOptions, ProgressEvent, downloadModel, resolveModel } from '../src/hub';
import { createProgress } from '../src/hub/progress';
import { FakeHub, loadRepoDir, sha256 } from './helpers/fake-hub';
import { rejection } from './helpers/expect';
import { tempDir } from './helpers/tmp';

const FIXTURES = path.resolve(__dirname, '../../test/fixtures');
const TINY_DIR = path.join(FIXTURES, 'blip-itm-tiny');
const TINY = 'acme/blip-itm-tiny';
const BIN = 'acme/blip-itm-tiny-bin';
const SHARDED = 'acme/blip-itm-sharded';
const NOT_A_MODEL = 'acme/not-a-model';
const ESCAPING = 'acme/index-escapes';
const MODEL_FILES = ['config.json', 'preprocessor_config.json', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.txt'];

describe('hub download', function () {
  this.timeout(10_000);
  let repos: Record<string, Record<string, Buffer>>;
  let hub: FakeHub;
  let cacheDir: string;
  let repoRoot: (id: string) => string;

  before(() => {
    const tiny = loadRepoDir(TINY_DIR);
    const small = Object.fromEntries(MODEL_FILES.map((f) => [f, tiny[f]]));
    const half = tiny['model.safetensors'].length >> 1;
    repos = {
      // tf_model.h5 sits beside the weights on the real hub; it must never be fetched.
      [TINY]: { ...tiny, 'tf_model.h5': Buffer.alloc(1000, 7) },
      [BIN]: loadRepoDir(path.join(FIXTURES, 'blip-itm-tiny-bin')),
      [SHARDED]: {
        ...small,
        'model.safetensors.index.json': Buffer.from(
          JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }),
        ),
        'model-00001-of-00002.safetensors': tiny['model.safetensors'].subarray(0, half),
        'model-00002-of-00002.safetensors': tiny['model.safetensors'].subarray(half),
      },
      [NOT_A_MODEL]: { 'README.md': Buffer.from('# hello\n') },
      [ESCAPING]: {
        ...small,
        'model.safetensors.index.json': Buffer.from(JSON.stringify({ weight_map: { a: '../../etc/passwd' } })),
      },
    };
  });

  beforeEach(async () => {
    hub = await FakeHub.start(repos);
    cacheDir = tempDir('hub-test-');
    repoRoot = (id) => path.join(cacheDir, `models--${id.replace('/', '--')}`);
  });

  afterEach(async () => {
    await hub.close();
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  /** Every option explicit, so the developer's own HF_* variables cannot leak into a test. */
  const opts = (extra: HubOptions = {}): HubOptions => ({
    cacheDir,
    endpoint: hub.url,
    token: '',
    offline: false,
    progress: false,
    fetchTimeoutMs: 2000,
    ...extra,
  });
  const cdnGets = (): http.IncomingHttpHeaders[] =>
    hub.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/cdn/')).map((r) => r.headers);

  it('downloads into the huggingface_hub cache layout', async () => {
    const dir = await downloadModel(TINY, opts());
    const commit = hub.commitOf(TINY, 'main');
    expect(dir).to.equal(path.join(repoRoot(TINY), 'snapshots', commit));
    expect(fs.readFileSync(path.join(repoRoot(TINY), 'refs', 'main'), 'utf8')).to.equal(commit);

    for (const file of [...MODEL_FILES, 'model.safetensors']) {
      const pointer = path.join(dir, file);
      const etag = hub.etagOf(TINY, file);
      expect(fs.lstatSync(pointer).isSymbolicLink(), file).to.equal(true);
      expect(fs.readlinkSync(pointer)).to.equal(`../../blobs/${etag}`);
      expect(fs.readFileSync(pointer).equals(fs.readFileSync(path.join(TINY_DIR, file))), file).to.equal(true);
    }
    const weights = fs.readFileSync(path.join(TINY_DIR, 'model.safetensors'));
    expect(hub.etagOf(TINY, 'model.safetensors')).to.equal(sha256(weights)); // LFS blob named by sha256
    expect(hub.etagOf(TINY, 'config.json')).to.match(/^[0-9a-f]{40}$/); // small file: git blob sha1
    expect(fs.readdirSync(path.join(repoRoot(TINY), 'blobs')).filter((f) => f.endsWith('.incomplete'))).to.deep.equal([]);
    expect(hub.requests.some((r) => r.path.includes('tf_model.h5'))).to.equal(false);
    expect(fs.existsSync(path.join(dir, 'tf_model.h5'))).to.equal(false);
  });

  it('serves a second run from the cache: offline, by commit sha, and with one API call for a branch', async () => {
    const dir = await downloadModel(TINY, opts());
    const before = hub.requests.length;
    expect(await downloadModel(TINY, opts({ offline: true }))).to.equal(dir);
    expect(await resolveModel(TINY, opts({ offline: true }))).to.equal(dir);
    expect(await downloadModel(TINY, opts({ revision: hub.commitOf(TINY, 'main') }))).to.equal(dir);
    expect(hub.requests.length).to.equal(before);

    expect(await downloadModel(TINY, opts())).to.equal(dir);
    expect(hub.requests.slice(before).map((r) => r.path)).to.deep.equal([`/api/models/${TINY}/revision/main`]);
  });

  it('falls back to a complete cached snapshot when the hub cannot be reached', async () => {
    const dir = await downloadModel(TINY, opts());
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect(await resolveModel(TINY, opts({ endpoint: `http://127.0.0.1:${port}` }))).to.equal(dir);
  });

  it('fails clearly offline when the model is not cached', async () => {
    const err = await rejection(downloadModel(TINY, opts({ offline: true })));
    expect(err.message).to.match(/^offline mode: acme\/blip-itm-tiny@main is not in the cache/);
    expect(hub.requests.length).to.equal(0);
  });

  it('resumes a transfer cut off midway within the same run', async () => {
    hub.cut = { file: 'model.safetensors', bytes: 1_000_000, times: 1 };
    const dir = await downloadModel(TINY, opts());
    // The client may lose the tail still buffered when the socket dies, so resume from <= 1e6.
    const ranges = cdnGets().map((h) => h.range);
    expect(ranges.length).to.equal(2);
    expect(ranges[0]).to.equal(undefined);
    const from = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? '')?.[1]);
    expect(from).to.be.greaterThan(0).and.at.most(1_000_000);
    expect(fs.readFileSync(path.join(dir, 'model.safetensors')).equals(fs.readFileSync(path.join(TINY_DIR, 'model.safetensors')))).to.equal(
      true,
    );
  });

  it('keeps the partial file when a run gives up, and the next run resumes it with Range', async () => {
    hub.cut = { file: 'model.safetensors', bytes: 1_000_000, times: 99 };
    const err = await rejection(downloadModel(TINY, opts()));
    expect(err.message).to.match(/^download of model\.safetensors interrupted after .* run again to resume$/);
    const part = path.join(repoRoot(TINY), 'blobs', `${hub.etagOf(TINY, 'model.safetensors')}.incomplete`);
    const have = fs.statSync(part).size;
    expect(have).to.be.greaterThan(0);
    expect(fs.existsSync(path.join(repoRoot(TINY), 'refs', 'main'))).to.equal(false);

    hub.cut = undefined;
    const gets = cdnGets().length;
    const dir = await downloadModel(TINY, opts());
    expect(
      cdnGets()
        .slice(gets)
        .map((h) => h.range),
    ).to.deep.equal([`bytes=${have}-`]);
    expect(fs.existsSync(part)).to.equal(false);
    expect(sha256(fs.readFileSync(path.join(dir, 'model.safetensors')))).to.equal(hub.etagOf(TINY, 'model.safetensors'));
  });

  it('rejects corrupted bytes and leaves no blob behind', async () => {
    hub.corrupt.add('vocab.txt');
    const err0 = await rejection(downloadModel(TINY, opts()));
    expect(err0.message).to.match(/^corrupted download of vocab\.txt: sha1 mismatch/);

    hub.corrupt.clear();
    hub.corrupt.add('model.safetensors');
    const err = await rejection(downloadModel(TINY, opts()));
    expect(err.message).to.match(/^corrupted download of model\.safetensors: sha256 mismatch/);
    const blob = path.join(repoRoot(TINY), 'blobs', hub.etagOf(TINY, 'model.safetensors'));
    expect(fs.existsSync(blob)).to.equal(false);
    expect(fs.existsSync(`${blob}.incomplete`)).to.equal(false);
    expect(fs.existsSync(path.join(repoRoot(TINY), 'snapshots', hub.commitOf(TINY, 'main'), 'model.safetensors'))).to.equal(false);
  });

  it('reports missing repos, revisions, non-model repos and bad ids clearly', async () => {
    expect((await rejection(downloadModel('acme/nope', opts()))).message).to.match(/^repository not found: acme\/nope/);
    expect((await rejection(downloadModel(TINY, opts({ revision: 'v9' })))).message).to.equal(
      'revision not found: v9 in acme/blip-itm-tiny',
    );
    expect((await rejection(downloadModel(NOT_A_MODEL, opts()))).message).to.equal(
      'config.json not found in acme/not-a-model@main: not a model repo or revision',
    );
    hub.api = false; // the same answers when probing file by file
    expect((await rejection(downloadModel('acme/nope', opts()))).message).to.match(/^repository not found: acme\/nope/);
    expect((await rejection(downloadModel(NOT_A_MODEL, opts()))).message).to.match(/not a model repo or revision$/);
    for (const bad of ['noslash', 'a/b/c', 'a--b/c', 'a/b..c', 'a/ b', 'a/b.git']) {
      expect((await rejection(downloadModel(bad, opts()))).message, bad).to.match(/^invalid Hugging Face repo id/);
    }
  });

  it('sends the token as Bearer to the hub only, and explains a 401', async () => {
    await hub.close();
    hub = await FakeHub.start(repos, { cdnOnOtherHost: true });
    hub.requireToken = 'hf_secret';
    const err = await rejection(downloadModel(TINY, opts()));
    expect(err.message).to.match(/authentication required .*set HF_TOKEN/);
    expect((await rejection(downloadModel(TINY, opts({ token: 'hf_wrong' })))).message).to.match(/token was rejected/);

    hub.requests.length = 0;
    await downloadModel(TINY, opts({ token: 'hf_secret' }));
    const toHub = hub.requests.filter((r) => r.server === 'hub');
    const toCdn = hub.requests.filter((r) => r.server === 'cdn');
    expect(toHub.length).to.be.greaterThan(0);
    expect(toCdn.length).to.be.greaterThan(0);
    expect(toHub.every((r) => r.headers.authorization === 'Bearer hf_secret')).to.equal(true);
    expect(toCdn.every((r) => r.headers.authorization === undefined)).to.equal(true);
  });

  it('downloads pytorch_model.bin when that is the only weights file (probing without the API)', async () => {
    hub.api = false;
    const dir = await downloadModel(BIN, opts());
    const commit = hub.commitOf(BIN, 'main');
    expect(fs.existsSync(path.join(dir, 'pytorch_model.bin'))).to.equal(true);
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).to.equal(false);
    expect(fs.existsSync(path.join(repoRoot(BIN), '.no_exist', commit, 'model.safetensors'))).to.equal(true);
    expect(hub.requests.some((r) => r.method === 'GET' && r.path.includes('model.safetensors'))).to.equal(false);

    const before = hub.requests.length;
    expect(await downloadModel(BIN, opts({ revision: commit }))).to.equal(dir);
    expect(hub.requests.length).to.equal(before);
  });

  it('downloads a sharded safetensors checkpoint', async () => {
    const dir = await downloadModel(SHARDED, opts());
    for (const f of ['model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']) {
      expect(fs.existsSync(path.join(dir, f)), f).to.equal(true);
    }
    expect(await downloadModel(SHARDED, opts({ offline: true }))).to.equal(dir);
  });

  it('refuses a shard index naming a file outside the repository, fetching nothing for it', async () => {
    const err = await rejection(downloadModel(ESCAPING, opts()));
    expect(err.message).to.equal(
      'model.safetensors.index.json: weight_map entry "a" names "../../etc/passwd", which is outside the model directory',
    );
    expect(hub.requests.map((r) => r.path).filter((p) => p.includes('passwd'))).to.deep.equal([]);
  });

  it('writes refs/refs/pr/5 for a PR revision and URL-encodes it', async () => {
    hub.api = false;
    const dir = await downloadModel(TINY, opts({ revision: 'refs/pr/5' }));
    const commit = hub.commitOf(TINY, 'refs/pr/5');
    expect(dir).to.equal(path.join(repoRoot(TINY), 'snapshots', commit));
    expect(fs.readFileSync(path.join(repoRoot(TINY), 'refs', 'refs', 'pr', '5'), 'utf8')).to.equal(commit);
    expect(hub.requests.map((r) => r.path)).to.include.members([
      `/api/models/${TINY}/revision/refs%2Fpr%2F5`, // answered 404: probing follows
      `/${TINY}/resolve/refs%2Fpr%2F5/config.json`,
    ]);
    expect(await downloadModel(TINY, opts({ revision: 'refs/pr/5', offline: true }))).to.equal(dir);
  });

  it('resolveModel returns local directories unchanged and rejects missing paths', async () => {
    expect(await resolveModel(TINY_DIR, opts())).to.equal(TINY_DIR);
    const rel = path.relative(process.cwd(), TINY_DIR);
    expect(await resolveModel(rel, opts())).to.equal(rel);
    for (const missing of ['./no-such-model', '/no/such/model', '~/no-such-model-dir']) {
      expect((await rejection(resolveModel(missing, opts()))).message).to.equal(`model directory not found: ${missing}`);
    }
    expect((await rejection(resolveModel(path.join(TINY_DIR, 'config.json'), opts()))).message).to.match(/not a directory/);
    expect(await resolveModel(TINY, opts())).to.equal(path.join(repoRoot(TINY), 'snapshots', hub.commitOf(TINY, 'main')));
    expect(hub.requests.length).to.be.greaterThan(0);
  });

  it('times out a stalled server and names an unreachable one', async () => {
    hub.stall.add('config.json');
    hub.api = false;
    const err = await rejection(downloadModel(TINY, opts({ fetchTimeoutMs: 200 })));
    expect(err.message).to.match(/^timed out after 200 ms waiting for http:\/\/127\.0\.0\.1:\d+\/acme\/blip-itm-tiny\/resolve/);

    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err2 = await rejection(downloadModel(TINY, opts({ endpoint: `http://127.0.0.1:${port}` })));
    expect(err2.message).to.equal(
      `cannot reach http://127.0.0.1:${port}: ECONNREFUSED; ${TINY}@main is not in the cache ${cacheDir} either`,
    );
  });

  it('reads HF_ENDPOINT, HF_HUB_CACHE, HF_TOKEN and HF_HUB_OFFLINE when options are absent', async () => {
    const names = ['HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_TOKEN', 'HF_HUB_OFFLINE', 'HF_HOME'] as const;
    const saved = names.map((n) => process.env[n]);
    try {
      Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cacheDir, HF_TOKEN: 'hf_env', HF_HUB_OFFLINE: '0' });
      hub.requireToken = 'hf_env';
      const dir = await downloadModel(TINY, { progress: false });
      expect(dir.startsWith(repoRoot(TINY))).to.equal(true);

      process.env.HF_HUB_OFFLINE = '1';
      const before = hub.requests.length;
      expect(await downloadModel(TINY, { progress: false })).to.equal(dir);
      expect(hub.requests.length).to.equal(before);
      // explicit options beat the environment
      expect((await rejection(downloadModel(TINY, { progress: false, offline: false, token: '' }))).message).to.match(/HF_TOKEN/);
    } finally {
      names.forEach((n, i) => {
        if (saved[i] === undefined) delete process.env[n];
        else process.env[n] = saved[i];
      });
    }
  });

  it('reports progress to a callback and draws a bar only on a TTY', async () => {
    const events: ProgressEvent[] = [];
    await downloadModel(TINY, opts({ progress: (e) => events.push(e) }));
    const weights = events.filter((e) => e.file === 'model.safetensors');
    expect(weights.length).to.be.greaterThan(1);
    expect(weights[weights.length - 1].done).to.equal(weights[0].total);

    let out = '';
    const tty = { isTTY: true, columns: 80, write: (s: string) => ((out += s), true) };
    const bar = createProgress(true, 'model.safetensors', 4_000_000, 0, tty);
    bar.update(1_000_000);
    bar.end(true);
    expect(out).to.match(/model\.safetensors +100% 4\.00 MB\/4\.00 MB .*\/s ETA /);
    expect(out.endsWith('\n')).to.equal(true);

    let quiet = '';
    const pipe = { isTTY: false, write: (s: string) => ((quiet += s), true) };
    createProgress(true, 'x', 10, 0, pipe).end(true);
    createProgress(false, 'x', 10, 0, tty).end(true);
    expect(quiet).to.equal('');
  });
});
