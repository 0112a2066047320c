/** Image and video retrieval with BLIP: an index on LanceDB, text → image/video search, captions ranked for an image. */
export { ImageIndex, DEFAULT_NPROBES, DEFAULT_REFINE_FACTOR, hitRecord } from './image-index';
export type { SearchHit, SearchOptions } from './image-index';
export { buildIndex, IndexInterrupted, DEFAULT_ANN_MIN_ROWS } from './indexer';
export type { BuildOptions, BuildProgress, BuildReport } from './indexer';
export { rankTexts } from './rank';
export type { RankedText } from './rank';
export { DEFAULT_RERANK, DEFAULT_TOP_K, RERANK_ORDERS, topIndices } from './scoring';
export type { RerankOrder, RetrievalOptions } from './scoring';
export { STATES_STORAGES, FORMAT_VERSION, MEDIA_KINDS } from './schema';
export type { IndexEntry, IndexMeta, MediaKind, StatesStorage } from './schema';
export { parseShard } from './shard';
export type { Shard } from './shard';
export { findMedia, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS } from './walk';
/** The former name of findMedia (which now finds videos too). */
export { findMedia as findImages } from './walk';
export { modelRecord } from './fingerprint';
