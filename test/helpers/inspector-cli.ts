import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as path from 'path';

const BIN = path.resolve(__dirname, '../../../bin/blip-itm.js');

/** Starts `blip-itm inspect` and resolves with the URL it prints first. */
export function startInspector(args: string[]): Promise<{ child: ChildProcessWithoutNullStreams; url: string; stderr: () => string }> {
  const child = spawn(process.execPath, [BIN, 'inspect', ...args], { env: { ...process.env, HF_HUB_OFFLINE: '1' } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const newline = out.indexOf('\n');
      if (newline >= 0) resolve({ child, url: out.slice(0, newline), stderr: () => err });
    });
    child.on('exit', (code) => reject(new Error(`inspect exited with ${code} before printing its URL: ${err}`)));
  });
}

export function exited(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}
