export * from './dkg/index.js'
export * from './signing/index.js'
export { CommittedKeyShare } from './key-share.js'
