export { fetchBlocks, serveBlocks, syncProtocol, type BlockSource, type FetchedBlocks } from './block-sync.js'
