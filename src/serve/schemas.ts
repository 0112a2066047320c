/**
 * JSON Schemas of the request bodies, for /openapi.json and the docs page only: the handlers
 * check bodies themselves so that every refusal is a 422 naming the field.
 */

const strings = (description: string) => ({ type: 'array', items: { type: 'string' }, description });
const IMAGE_OR_TEXT = 'an image as data:image/(jpeg|png);base64,... or any other string as a text';
const textOptions = {
  max_length: { type: 'integer', minimum: 1, description: 'truncate texts to this many tokens (BLIP retrieval uses 35)' },
  enc_token: { type: 'boolean', description: "put [ENC] at position 0 of the ITM input, as BLIP's retrieval evaluation does" },
};

export const SCHEMAS = {
  score: {
    type: 'object',
    required: ['images', 'texts'],
    properties: {
      images: strings('images as data:image/(jpeg|png);base64,...'),
      texts: strings('texts'),
      mode: { type: 'string', enum: ['itm', 'itc', 'both'], default: 'both' },
      ...textOptions,
    },
  },
  rerank: {
    type: 'object',
    required: ['query', 'documents'],
    properties: {
      model: { type: 'string', description: 'ignored (this server serves one model)' },
      query: { type: 'string', description: IMAGE_OR_TEXT },
      documents: {
        type: 'array',
        items: { anyOf: [{ type: 'string' }, { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] }] },
        description: 'images when the query is a text, texts when it is an image',
      },
      top_n: { type: 'integer', minimum: 1 },
      return_documents: { type: 'boolean', default: false },
      ...textOptions,
    },
  },
  embeddings: {
    type: 'object',
    required: ['input'],
    properties: {
      input: { anyOf: [{ type: 'string' }, strings(IMAGE_OR_TEXT)], description: IMAGE_OR_TEXT },
      model: { type: 'string', description: 'ignored (this server serves one model)' },
      encoding_format: { type: 'string', enum: ['float', 'base64'], default: 'float' },
      dimensions: { type: 'integer', description: "must equal the model's ITC dimension when given" },
    },
  },
  search: {
    type: 'object',
    required: ['query'],
    properties: {
      query: { type: 'string' },
      top_k: { type: 'integer', minimum: 1 },
      rerank: { type: 'integer', minimum: 0, description: 're-score the best K by ITC with the ITM head (0: ITC only)' },
      order: { type: 'string', enum: ['itm', 'blip'] },
      ...textOptions,
    },
  },
  explain: {
    type: 'object',
    required: ['image', 'text'],
    properties: {
      image: { type: 'string', description: 'data:image/(jpeg|png);base64,...' },
      text: { type: 'string' },
      layer: { type: 'integer', minimum: 0, description: 'text layer whose cross-attention is used (default 2/3 of the depth)' },
      format: { type: 'string', enum: ['png', 'json'], default: 'png' },
      ...textOptions,
    },
  },
} as const;
