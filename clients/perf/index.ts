export { ntbPerfModule, PERF_NAME, PERF_VERSION, MAX_CHUNK_ORDER, MAX_THREADS_CNT } from './ntb-perf';
