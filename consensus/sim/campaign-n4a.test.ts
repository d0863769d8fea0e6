import { campaign } from './test-helpers/campaign.js'

// One slice of the CI campaign (n=4: 3000 seeds, n=7: 1800), split into files that vitest runs in parallel.
campaign(4, 0, 1500)
