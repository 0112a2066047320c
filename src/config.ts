import * as fs from 'fs';
import * as path from 'path';

/**
 * config.json as the hub writes it for BlipForImageTextRetrieval. Absent keys take
 * transformers' defaults (BlipVisionConfig / BlipTextConfig / BlipConfig), e.g. the published
 * base config has no `encoder_hidden_size`, which defaults to 768.
 */
export interface VisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  hiddenAct: string;
}

export interface TextConfig {
  vocabSize: number;
  hiddenSize: number;
  encoderHiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  layerNormEps: number;
  hiddenAct: string;
  padTokenId: number;
}

export interface BlipConfig {
  vision: VisionConfig;
  text: TextConfig;
  /** Width of the ITC projections (vision_proj / text_proj). */
  imageTextHiddenSize: number;
}

type Json = Record<string, unknown>;

function pick(obj: Json, key: string, fallback: number, where: string): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: ${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function pickString(obj: Json, key: string, fallback: string): string {
  const v = obj[key];
  return typeof v === 'string' ? v : fallback;
}

export function parseConfig(json: unknown, where = 'config.json'): BlipConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: not a JSON object`);
  const root = json as Json;
  const v = (root.vision_config ?? {}) as Json;
  const t = (root.text_config ?? {}) as Json;
  const vw = `${where} vision_config`;
  const tw = `${where} text_config`;
  const vision: VisionConfig = {
    hiddenSize: pick(v, 'hidden_size', 768, vw),
    intermediateSize: pick(v, 'intermediate_size', 3072, vw),
    numHiddenLayers: pick(v, 'num_hidden_layers', 12, vw),
    numAttentionHeads: pick(v, 'num_attention_heads', 12, vw),
    imageSize: pick(v, 'image_size', 384, vw),
    patchSize: pick(v, 'patch_size', 16, vw),
    layerNormEps: pick(v, 'layer_norm_eps', 1e-5, vw),
    hiddenAct: pickString(v, 'hidden_act', 'gelu'),
  };
  const text: TextConfig = {
    vocabSize: pick(t, 'vocab_size', 30524, tw),
    hiddenSize: pick(t, 'hidden_size', 768, tw),
    encoderHiddenSize: pick(t, 'encoder_hidden_size', 768, tw),
    intermediateSize: pick(t, 'intermediate_size', 3072, tw),
    numHiddenLayers: pick(t, 'num_hidden_layers', 12, tw),
    numAttentionHeads: pick(t, 'num_attention_heads', 8, tw),
    maxPositionEmbeddings: pick(t, 'max_position_embeddings', 512, tw),
    layerNormEps: pick(t, 'layer_norm_eps', 1e-12, tw),
    hiddenAct: pickString(t, 'hidden_act', 'gelu'),
    padTokenId: pick(t, 'pad_token_id', 0, tw),
  };
  const config: BlipConfig = { vision, text, imageTextHiddenSize: pick(root, 'image_text_hidden_size', 256, where) };
  validate(config, where);
  return config;
}

function validate(c: BlipConfig, where: string): void {
  const check = (ok: boolean, why: string) => { if (!ok) throw new Error(`${where}: ${why}`); };
  check(c.vision.hiddenSize % c.vision.numAttentionHeads === 0,
    `vision hidden_size ${c.vision.hiddenSize} is not divisible by num_attention_heads ${c.vision.numAttentionHeads}`);
  check(c.text.hiddenSize % c.text.numAttentionHeads === 0,
    `text hidden_size ${c.text.hiddenSize} is not divisible by num_attention_heads ${c.text.numAttentionHeads}`);
  check(c.vision.imageSize % c.vision.patchSize === 0,
    `image_size ${c.vision.imageSize} is not a multiple of patch_size ${c.vision.patchSize}`);
  for (const act of [c.vision.hiddenAct, c.text.hiddenAct]) {
    check(act === 'gelu', `hidden_act "${act}" is not supported (BLIP uses "gelu")`);
  }
}

export function readConfig(dir: string): BlipConfig {
  const file = path.join(dir, 'config.json');
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch {
    throw new Error(`${file}: missing (a model directory needs config.json)`);
  }
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new Error(`${file}: invalid JSON (${(e as Error).message})`); }
  return parseConfig(json, file);
}

/** Number of image tokens the vision encoder produces: patches plus the class token. */
export function imageTokens(v: VisionConfig): number {
  return (v.imageSize / v.patchSize) ** 2 + 1;
}
