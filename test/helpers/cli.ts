import { spawn } from 'child_process';
import * as path from 'path';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const BIN = path.resolve(__dirname, '../../../bin/blip-itm.js');

/** Runs `blip-itm ARGS` as a user would, in a child process (no network: HF_ENDPOINT points nowhere). */
export function cli(args: string[], opts: { input?: string; env?: Record<string, string> } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, HF_HUB_OFFLINE: '', HF_ENDPOINT: 'http://127.0.0.1:9', ...opts.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Runs `blip-itm ARGS` in this process (no spawn): for commands that fail or print help before
 * any work that needs a process of its own. Captures stdout and stderr; `env` applies during the call.
 */
export async function cliInProcess(args: string[], opts: { env?: Record<string, string> } = {}): Promise<CliRun> {
  const { runCommand } = await import('../../src/cli/main');
  const out = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  const saved = Object.fromEntries(Object.keys(opts.env ?? {}).map((k) => [k, process.env[k]]));
  const exitCode = process.exitCode;
  const capture = (key: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array) => {
      out[key] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      return true;
    }) as typeof process.stdout.write;
  Object.assign(process.env, opts.env);
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
  try {
    const code = await runCommand(args);
    return { code, ...out };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    process.exitCode = exitCode;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
