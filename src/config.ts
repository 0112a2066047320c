import { JsonObject, describeJson, isJsonObject } from './json';

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

function integer(obj: JsonObject, key: string, fallback: number, where: string, min = 1): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`${where}: "${key}" must be an integer${min > 0 ? ` >= ${min}` : ' >= 0'}, got ${describeJson(v)}`);
  }
  return v;
}

function positive(obj: JsonObject, key: string, fallback: number, where: string): number {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new Error(`${where}: "${key}" must be a positive number, got ${describeJson(v)}`);
  return v;
}

function text(obj: JsonObject, key: string, fallback: string, where: string): string {
  const v = obj[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw new Error(`${where}: "${key}" must be a string, got ${describeJson(v)}`);
  return v;
}

/**
 * config.json checked by type before anything is built from it, so that a wrong file is named
 * here rather than as a shape error deep in the model.
 */
export function parseConfig(json: unknown, where = 'config.json'): BlipConfig {
  if (!isJsonObject(json)) throw new Error(`${where}: must be a JSON object, got ${describeJson(json)}`);
  const root = json;
  const modelType = root.model_type;
  if (modelType !== undefined && modelType !== 'blip') {
    throw new Error(`${where}: "model_type" is ${describeJson(modelType)}, not "blip": this is not a BLIP model's config`);
  }
  for (const key of ['vision_config', 'text_config']) {
    if (!isJsonObject(root[key])) {
      throw new Error(
        `${where}: "${key}" must be a JSON object, got ${describeJson(root[key])} (is this a BlipForImageTextRetrieval config?)`,
      );
    }
  }
  const v = root.vision_config as JsonObject;
  const t = root.text_config as JsonObject;
  const vw = `${where} vision_config`;
  const tw = `${where} text_config`;
  const vision: VisionConfig = {
    hiddenSize: integer(v, 'hidden_size', 768, vw),
    intermediateSize: integer(v, 'intermediate_size', 3072, vw),
    numHiddenLayers: integer(v, 'num_hidden_layers', 12, vw),
    numAttentionHeads: integer(v, 'num_attention_heads', 12, vw),
    imageSize: integer(v, 'image_size', 384, vw),
    patchSize: integer(v, 'patch_size', 16, vw),
    layerNormEps: positive(v, 'layer_norm_eps', 1e-5, vw),
    hiddenAct: text(v, 'hidden_act', 'gelu', vw),
  };
  const text_: TextConfig = {
    vocabSize: integer(t, 'vocab_size', 30524, tw),
    hiddenSize: integer(t, 'hidden_size', 768, tw),
    encoderHiddenSize: integer(t, 'encoder_hidden_size', 768, tw),
    intermediateSize: integer(t, 'intermediate_size', 3072, tw),
    numHiddenLayers: integer(t, 'num_hidden_layers', 12, tw),
    numAttentionHeads: integer(t, 'num_attention_heads', 8, tw),
    maxPositionEmbeddings: integer(t, 'max_position_embeddings', 512, tw),
    layerNormEps: positive(t, 'layer_norm_eps', 1e-12, tw),
    hiddenAct: text(t, 'hidden_act', 'gelu', tw),
    padTokenId: integer(t, 'pad_token_id', 0, tw, 0),
  };
  const config: BlipConfig = { vision, text: text_, imageTextHiddenSize: integer(root, 'image_text_hidden_size', 256, where) };
  validate(config, where);
  return config;
}

function validate(c: BlipConfig, where: string): void {
  const check = (ok: boolean, why: string) => {
    if (!ok) throw new Error(`${where}: ${why}`);
  };
  check(
    c.vision.hiddenSize % c.vision.numAttentionHeads === 0,
    `vision hidden_size ${c.vision.hiddenSize} is not divisible by num_attention_heads ${c.vision.numAttentionHeads}`,
  );
  check(
    c.text.hiddenSize % c.text.numAttentionHeads === 0,
    `text hidden_size ${c.text.hiddenSize} is not divisible by num_attention_heads ${c.text.numAttentionHeads}`,
  );
  check(c.text.padTokenId < c.text.vocabSize, `text pad_token_id ${c.text.padTokenId} is not below vocab_size ${c.text.vocabSize}`);
  check(
    c.vision.imageSize % c.vision.patchSize === 0,
    `image_size ${c.vision.imageSize} is not a multiple of patch_size ${c.vision.patchSize}`,
  );
  for (const act of [c.vision.hiddenAct, c.text.hiddenAct]) {
    check(act === 'gelu', `hidden_act "${act}" is not supported (BLIP uses "gelu")`);
  }
}

/** Number of image tokens the vision encoder produces: patches plus the class token. */
export function imageTokens(v: VisionConfig): number {
  return (v.imageSize / v.patchSize) ** 2 + 1;
}
