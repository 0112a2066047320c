/** Node: config.json of a model directory on disk (parsing: src/config.ts). */
import * as path from 'path';
import { BlipConfig, parseConfig } from '../config';
import { readJsonFile } from './json';

export function readConfig(dir: string): BlipConfig {
  const file = path.join(dir, 'config.json');
  return parseConfig(readJsonFile(file, { why: 'a model directory needs config.json' }), file);
}
