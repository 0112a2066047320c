#!/usr/bin/env node
'use strict';
/**
 * Load benchmark of `blip-itm serve` (docs/serve.md has the results and how they were run).
 *
 *   node scripts/bench/serve.js --model DIR [--tiny DIR] [--seconds S] [--clients 1,4,16,64]
 *                              [--max-queue N] [--sequential N] [--soak N] [--threads N] [--json FILE]
 *
 * For the checkpoint --model: N sequential single requests (one client, one request at a time),
 * then for each client count an autocannon run of S seconds against the server with batching on
 * (--max-batch 16) and off (--max-batch 1, for --off-clients only): requests/s, images/s, p50/p95/p99 latency of the 200s,
 * 429 share. Each request is POST /v1/score with one image and one text. With --tiny DIR, a soak of
 * --soak requests (default 10,000) on that checkpoint, RSS read from /metrics after the first 100
 * and at the end. Servers bind 127.0.0.1 on a free port; run `npm run build` first.
 */
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const { parseArgs } = require('util');
const autocannon = require('autocannon');

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/blip-itm.js');
const IMAGE = path.join(ROOT, 'test/fixtures/images/chelsea.png');
const TEXT = 'a cat lying on a rug';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    tiny: { type: 'string' },
    seconds: { type: 'string', default: '30' },
    clients: { type: 'string', default: '1,4,16,64' },
    'max-queue': { type: 'string', default: '4' },
    'off-clients': { type: 'string', default: '16' },
    sequential: { type: 'string', default: '5' },
    soak: { type: 'string', default: '10000' },
    threads: { type: 'string' },
    json: { type: 'string' },
  },
});
if (!values.model && !values.tiny) {
  process.stderr.write('usage: node scripts/bench/serve.js --model DIR [--tiny DIR] [--seconds S] [--clients 1,4,16,64] [--json FILE]\n');
  process.exit(2);
}

const body = JSON.stringify({
  images: [`data:image/png;base64,${fs.readFileSync(IMAGE).toString('base64')}`],
  texts: [TEXT],
  mode: 'both',
});

/** Starts `blip-itm serve` and resolves with its URL (its first stdout line) and the child. */
function startServer(model, extra) {
  const args = [BIN, 'serve', '--model', model, '--backend', 'wasm', '--port', '0', ...extra];
  if (values.threads) args.push('--threads', values.threads);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.on('data', () => undefined); // request logs: not kept
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) resolve({ child, url: out.split('\n')[0] });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
}

async function stopServer({ child }, signal = 'SIGTERM') {
  const done = new Promise((r) => child.once('exit', r));
  child.kill(signal);
  await done;
}

function percentile(sorted, p) {
  if (!sorted.length) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function score(url) {
  const t = performance.now();
  const r = await fetch(`${url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await r.text();
  if (r.status !== 200) throw new Error(`status ${r.status}`);
  return performance.now() - t;
}

async function sequential(url, n) {
  await score(url); // warm-up
  const times = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) times.push(await score(url));
  const seconds = (performance.now() - t0) / 1000;
  times.sort((a, b) => a - b);
  return {
    clients: 'sequential',
    requests: n,
    rps: n / seconds,
    imagesPerS: n / seconds,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    p99: percentile(times, 99),
    share429: 0,
  };
}

function load(url, clients, seconds) {
  return new Promise((resolve, reject) => {
    const ok = [];
    let limited = 0;
    let other = 0;
    const t0 = performance.now();
    const instance = autocannon(
      {
        url: `${url}/v1/score`,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        connections: clients,
        duration: seconds,
        timeout: 600,
      },
      (err) => {
        if (err) return reject(err);
        const elapsed = (performance.now() - t0) / 1000;
        ok.sort((a, b) => a - b);
        const total = ok.length + limited + other;
        resolve({
          clients,
          requests: total,
          ok: ok.length,
          rps: ok.length / elapsed,
          imagesPerS: ok.length / elapsed,
          p50: percentile(ok, 50),
          p95: percentile(ok, 95),
          p99: percentile(ok, 99),
          share429: total ? limited / total : 0,
          errors: other,
        });
      },
    );
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status === 200) ok.push(ms);
      else if (status === 429) limited++;
      else other++;
    });
  });
}

async function rssOf(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^process_resident_memory_bytes ([\d.e+]+)/m.exec(text);
  return m ? Number(m[1]) / 2 ** 20 : null;
}

async function soak(model, n) {
  const server = await startServer(model, ['--max-queue', '64', '--max-batch', '16']);
  try {
    let sent = 0;
    let rss100 = null;
    const statuses = {};
    const worker = async () => {
      while (sent < n) {
        sent++;
        const r = await fetch(`${server.url}/v1/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.text();
        statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        if (sent >= 100 && rss100 === null) rss100 = await rssOf(server.url);
      }
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 8 }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const rssEnd = await rssOf(server.url);
    return { requests: n, seconds, statuses, rssAfter100MiB: rss100, rssAfterAllMiB: rssEnd, growthMiB: rssEnd - rss100 };
  } finally {
    await stopServer(server);
  }
}

function fmt(v, d = 1) {
  return v === null || v === undefined ? '-' : Number(v).toFixed(d);
}

function table(rows) {
  const head = '| clients | batching | requests | req/s | images/s | p50 ms | p95 ms | p99 ms | 429 share | RSS MiB |';
  const lines = rows.map(
    (r) =>
      `| ${r.clients} | ${r.batching} | ${r.requests} | ${fmt(r.rps, 2)} | ${fmt(r.imagesPerS, 2)} | ${fmt(r.p50, 0)} | ${fmt(r.p95, 0)} | ${fmt(r.p99, 0)} | ${fmt(100 * r.share429, 0)} % |`,
  );
  return [head, '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |', ...lines].join('\n');
}

async function main() {
  const report = { date: new Date().toISOString(), node: process.version, cpus: require('os').cpus().length, rows: [] };
  const seconds = Number(values.seconds);
  const clients = values.clients.split(',').map(Number);
  if (values.model) {
    const base = ['--max-queue', values['max-queue'], '--batch-wait-ms', '5'];
    // A fresh, warmed-up server per run: autocannon abandons the requests in flight when it stops,
    // and a base-size request takes seconds, so the next run must not inherit that queue.
    const fresh = async (maxBatch) => {
      const server = await startServer(values.model, [...base, '--max-batch', maxBatch]);
      await score(server.url);
      return server;
    };
    const server = await fresh('16');
    try {
      report.rows.push({ ...(await sequential(server.url, Number(values.sequential))), batching: '-', rssMiB: await rssOf(server.url) });
    } finally {
      await stopServer(server, 'SIGKILL');
    }
    const runs = [...clients.map((c) => ['on (16)', '16', c]), ...values['off-clients'].split(',').map((c) => ['off (1)', '1', Number(c)])];
    for (const [batching, maxBatch, c] of runs) {
      const server = await fresh(maxBatch);
      try {
        const row = { ...(await load(server.url, c, seconds)), batching, rssMiB: await rssOf(server.url) };
        report.rows.push(row);
        process.stderr.write(`${batching} ${c} clients: ${fmt(row.rps, 3)} req/s, 429 ${fmt(100 * row.share429, 0)} %\n`);
      } finally {
        await stopServer(server, 'SIGKILL');
      }
    }
    process.stdout.write(table(report.rows) + '\n');
  }
  if (values.tiny) {
    report.soak = await soak(values.tiny, Number(values.soak));
    process.stdout.write(`soak: ${JSON.stringify(report.soak)}\n`);
  }
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench/serve: ${e.message}\n`);
  process.exit(1);
});
