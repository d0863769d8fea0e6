export { ChainWatcher, type ChainWatcherOptions, type CursorStore } from './chain-watcher.js'
export { WatcherMetrics } from './metrics.js'
