import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The project root: the nearest folder above this module holding our package.json (works from source and from dist/). */
export const PROJECT_ROOT: string = findRoot(dirname(fileURLToPath(import.meta.url)))

/** The node's version, from package.json. */
export const NODE_VERSION: string = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version

function findRoot(dir: string): string {
  for (let current = dir; ; current = dirname(current)) {
    try {
      const pkg = JSON.parse(readFileSync(join(current, 'package.json'), 'utf8')) as { name?: string }
      if (pkg.name === 'universal-bitcoin-guardian') return current
    } catch {
      // not here; keep walking up
    }
    if (dirname(current) === current) throw new Error(`package.json of universal-bitcoin-guardian not found above ${dir}`)
  }
}
