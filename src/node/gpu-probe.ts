/**
 * The `auto` backend's look for a hardware WebGPU adapter, made without a sound.
 *
 * Loading Dawn (the `webgpu` package) starts the Vulkan loader and every installed driver inside
 * the process, and they write to its stderr: "Found no drivers!" when libvulkan1 is installed
 * without a driver, `error: XDG_RUNTIME_DIR is invalid…` and Dawn's warnings when Mesa's drivers
 * are (Debian's ffmpeg pulls in both). A backend nobody asked for by name must not print, so:
 *
 * 1. without a GPU device node (/dev/dri/renderD*, /dev/nvidia*, WSL's /dev/dxg) no driver can
 *    reach hardware: the answer is "no", at once (well under a millisecond);
 * 2. otherwise the adapter is requested in a child process whose stderr is kept from the user,
 *    and only a hardware adapter found there is opened in this process.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** The adapter fields `isSoftwareAdapter` reads. */
export interface ProbedAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
}

/** Device nodes through which a Linux process reaches a GPU (empty on a machine without one). */
export function gpuDeviceNodes(dev = '/dev'): string[] {
  const nodes: string[] = [];
  try {
    for (const name of fs.readdirSync(path.join(dev, 'dri'))) if (name.startsWith('renderD')) nodes.push(path.join(dev, 'dri', name));
  } catch {
    // no /dev/dri: no DRM driver (Mesa's hardware drivers need one)
  }
  for (const name of ['nvidiactl', 'dxg']) if (fs.existsSync(path.join(dev, name))) nodes.push(path.join(dev, name));
  return nodes;
}

/** Run by the child: prints the high-performance adapter's info as JSON (null when there is none). */
const CHILD = `
const dawn = require(process.argv[1]);
dawn.create([]).requestAdapter({ powerPreference: 'high-performance' }).then(
  (a) => {
    const i = a && a.info;
    const out = a && { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
      isFallbackAdapter: Boolean(a.isFallbackAdapter || i.isFallbackAdapter) };
    process.stdout.write(JSON.stringify(out) + '\\n', () => process.exit(0));
  },
  (e) => { process.stdout.write(JSON.stringify({ error: String((e && e.message) || e) }) + '\\n', () => process.exit(0)); },
);`;

/**
 * Asks Dawn for its high-performance adapter in a child process, keeping the drivers' output
 * away from the user. Returns the adapter's info, null when Dawn finds none, or a one-line reason
 * the probe itself failed.
 */
export function probeAdapterQuietly(
  dawnEntry: string,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 20_000,
): ProbedAdapter | null | string {
  const r = spawnSync(process.execPath, ['-e', CHILD, dawnEntry], {
    env,
    timeout: timeoutMs,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) return `the WebGPU probe did not run: ${r.error.message}`;
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  try {
    const parsed = JSON.parse(line) as ProbedAdapter | { error: string } | null;
    if (parsed !== null && 'error' in parsed) return `the WebGPU probe failed: ${parsed.error}`;
    return parsed;
  } catch {
    return `the WebGPU probe ended without an answer (exit ${r.status ?? r.signal})`;
  }
}
