import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import { expect } from 'chai';
import * as path from 'path';
import { IMAGES, TEXTS, TINY } from './helpers/fixtures';
import { httpCall } from './helpers/http-call';
import { dataUrl, post } from './helpers/serve';

const BIN = path.resolve(__dirname, '../../bin/blip-itm.js');

interface Child {
  proc: ChildProcessWithoutNullStreams;
  url: string;
  stderr: () => string;
  exit: Promise<number | null>;
}

/** `blip-itm serve` in a child process; resolves once it printed its first stdout line (the URL). */
function serveChild(args: string[], env: Record<string, string> = {}): Promise<Child> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [BIN, 'serve', '--model', TINY, '--backend', 'wasm', '--port', '0', ...args], {
      env: { ...process.env, BLIP_ITM_API_KEY: '', ...env },
    });
    let out = '';
    let err = '';
    const exit = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
    proc.stderr.on('data', (d) => (err += d));
    proc.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ proc, url: out.slice(0, nl), stderr: () => err, exit });
    });
    void exit.then((code) => reject(new Error(`serve exited ${code} before printing its URL: ${err}`)));
  });
}

describe('blip-itm serve (process)', function () {
  this.timeout(240_000);

  it('prints the URL first, turns ready, and on SIGTERM finishes 4 requests in flight with 200 and exits 0', async () => {
    const child = await serveChild(['--batch-wait-ms', '3000', '--max-batch', '64']);
    try {
      expect(child.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await httpCall(`${child.url}/ready`)).status).to.equal(200);
      const image = dataUrl(IMAGES[0]);
      const requests = [0, 1, 2, 3].map(() => post<{ itm: number[][] }>(`${child.url}/v1/score`, { images: [image], texts: [TEXTS[0]] }));
      // Wait until the four are admitted (the batcher holds them for --batch-wait-ms), then stop.
      const admitted = (m: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(m)?.[1] ?? 0);
      for (let t = 0; t < 500; t++) {
        const m = (await httpCall(`${child.url}/metrics`)).body.toString();
        if (admitted(m, 'blip_itm_queue_depth') + admitted(m, 'blip_itm_requests_in_service') >= 4) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      child.proc.kill('SIGTERM');
      const replies = await Promise.all(requests);
      expect(replies.map((r) => r.status)).to.deep.equal([200, 200, 200, 200]);
      replies.forEach((r) => expect(r.body.itm[0][0]).to.equal(replies[0].body.itm[0][0]));
      expect(await child.exit, child.stderr()).to.equal(0);
      const logs = child
        .stderr()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { route: string; status: number });
      expect(logs.filter((l) => l.route === '/v1/score' && l.status === 200)).to.have.length(4);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });

  it('takes the key from BLIP_ITM_API_KEY: 401 without it, 200 with it, /health open', async () => {
    const child = await serveChild([], { BLIP_ITM_API_KEY: 'from-env' });
    try {
      const body = { images: [dataUrl(IMAGES[1])], texts: ['a'] };
      expect((await post(`${child.url}/v1/score`, body)).status).to.equal(401);
      expect((await post(`${child.url}/v1/score`, body, { Authorization: 'Bearer from-env' })).status).to.equal(200);
      expect((await httpCall(`${child.url}/health`)).status).to.equal(200);
      child.proc.kill('SIGINT');
      expect(await child.exit).to.equal(0);
    } finally {
      child.proc.kill('SIGKILL');
    }
  });
});
