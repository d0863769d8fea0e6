export { DkgServiceError, type DkgServiceErrorCode } from './errors.js'
export { DkgMetrics } from './metrics.js'
export { DkgService, type DkgPhase, type DkgServiceOptions, type DkgState, type DkgStatus } from './service.js'
