import { spawnSync } from 'child_process';
import * as path from 'path';
import type { ChildResult } from './backend-child';

/** SwiftShader, Chromium's CPU Vulkan driver: gives Dawn an adapter on a machine with no GPU. */
export const SWIFTSHADER_ENV = {
  VK_ICD_FILENAMES: '/usr/lib/chromium/vk_swiftshader_icd.json',
  LD_LIBRARY_PATH: '/usr/lib/chromium',
};

export interface ChildRun {
  result: ChildResult | null;
  stderr: string;
  status: number | null;
}

/** Runs test/backend-child.ts in a fresh Node process (see there) with extra environment variables. */
export function runChild(args: string[], env: Record<string, string> = {}, timeoutMs = 240_000): ChildRun {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'backend-child.js'), ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let result: ChildResult | null = null;
  try {
    result = JSON.parse(line) as ChildResult;
  } catch {
    // no result line: the caller reports stderr
  }
  return { result, stderr: r.stderr ?? String(r.error), status: r.status };
}
