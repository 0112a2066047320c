/** `blip-itm filter`: BLIP's CapFilt caption filter over WebDataset tars and tables, as a resumable, shardable job (Node). */
export { filterPairs, runFilter, FilterInterrupted } from './job';
export type { FilterOptions, FilterProgress, FilterReport, SampleSource } from './job';
export type { FilterRow } from './parquet';
export type { Sample } from './sample';
export type { TableColumns } from './inputs';
