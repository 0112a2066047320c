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
