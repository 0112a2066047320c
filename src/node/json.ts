/** Node: the JSON files of a model directory, read with errors that name the file. */
import * as fs from 'fs';
import { parseJson } from '../json';

/** Parses a JSON file; a missing file is `undefined` when `optional`, else an error naming it. */
export function readJsonFile(file: string, opts: { optional: true; why?: string }): unknown | undefined;
export function readJsonFile(file: string, opts?: { optional?: false; why?: string }): unknown;
export function readJsonFile(file: string, opts: { optional?: boolean; why?: string } = {}): unknown | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && opts.optional) return undefined;
    if (code === 'ENOENT') throw new Error(`${file}: missing${opts.why ? ` (${opts.why})` : ''}`, { cause: e });
    if (code === 'EISDIR') throw new Error(`${file}: is a directory, not a JSON file`, { cause: e });
    throw new Error(`${file}: cannot be read (${(e as Error).message})`, { cause: e });
  }
  return parseJson(text, file);
}
