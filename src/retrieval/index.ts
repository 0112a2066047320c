/** Image retrieval with BLIP: an image index on LanceDB, text → image search, captions ranked for an image. */
export { ImageIndex, DEFAULT_NPROBES, DEFAULT_REFINE_FACTOR } from './image-index';
export type { SearchHit, SearchOptions } from './image-index';
export { buildIndex, IndexInterrupted, DEFAULT_ANN_MIN_ROWS } from './indexer';
export type { BuildOptions, BuildProgress, BuildReport } from './indexer';
export { rankTexts } from './rank';
export type { RankedText } from './rank';
export { DEFAULT_RERANK, DEFAULT_TOP_K, RERANK_ORDERS, topIndices } from './scoring';
export type { RerankOrder, RetrievalOptions } from './scoring';
export { STATES_STORAGES, FORMAT_VERSION } from './schema';
export type { IndexEntry, IndexMeta, StatesStorage } from './schema';
export { parseShard } from './shard';
export type { Shard } from './shard';
export { findImages, IMAGE_EXTENSIONS } from './walk';
export { modelRecord } from './fingerprint';
