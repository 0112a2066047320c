/** Image retrieval with BLIP: an on-disk image index, text → image search, captions ranked for an image. */
export { ImageIndex } from './image-index';
export type { SearchHit, SearchOptions } from './image-index';
export { buildIndex, IndexInterrupted } from './indexer';
export type { BuildOptions, BuildProgress, BuildReport } from './indexer';
export { rankTexts } from './rank';
export type { RankedText } from './rank';
export { DEFAULT_RERANK, DEFAULT_TOP_K, RERANK_ORDERS, topIndices } from './scoring';
export type { RerankOrder, RetrievalOptions } from './scoring';
export { STATES_STORAGES, FORMAT_VERSION } from './index-format';
export type { IndexEntry, StatesStorage, Manifest } from './index-format';
export { findImages, IMAGE_EXTENSIONS } from './walk';
export { modelRecord } from './fingerprint';
