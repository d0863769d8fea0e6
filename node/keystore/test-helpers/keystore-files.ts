import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect } from 'vitest'
import { KeystoreError, TESTNET_KDF, type KdfParams, type KeystoreErrorCode } from '../index.js'

/** A keystore file's JSON, as tests edit it. */
export type KeystoreDoc = { public: Record<string, unknown>; crypto: Record<string, unknown> & { kdfparams: Record<string, unknown> } } & Record<string, unknown>

export interface KeystoreFiles<Keys> {
  /** The test file's temp directory (set once its beforeAll ran). */
  readonly dir: string
  /** A new path, in a directory of its own that does not exist yet. */
  fresh(): string
  /** `keys` (default: new ones) written to a fresh path with the passphrase and TESTNET_KDF. */
  writeFresh(keys?: Keys): Promise<{ path: string; keys: Keys }>
  /** Awaits a rejection, asserts it is a KeystoreError with `code` and leaks none of the secrets. */
  expectKeystoreError(promise: Promise<unknown>, code: KeystoreErrorCode): Promise<KeystoreError>
}

/**
 * The keystore files of one test file: a temp directory made before its tests and removed after
 * them (registers the beforeAll and afterAll hooks where it is called), and the helpers above.
 */
export function keystoreFiles<Keys>(opts: {
  /** Prefix of the temp directory. */
  readonly prefix: string
  /** Name of every fresh keystore file. */
  readonly fileName: string
  readonly passphrase: string
  /** Texts no error message may contain besides the passphrase. */
  readonly secrets?: readonly string[]
  generate(): Promise<Keys>
  write(path: string, keys: Keys, passphrase: string, opts: { kdf: KdfParams }): Promise<unknown>
}): KeystoreFiles<Keys> {
  let dir: string | undefined
  let counter = 0
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), opts.prefix))
  })
  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })
  const files: KeystoreFiles<Keys> = {
    get dir(): string {
      if (dir === undefined) throw new Error('keystoreFiles: the temp directory is made in beforeAll')
      return dir
    },
    fresh: () => join(files.dir, `k${counter++}`, opts.fileName),
    async writeFresh(keys) {
      const k = keys ?? (await opts.generate())
      const path = files.fresh()
      await opts.write(path, k, opts.passphrase, { kdf: TESTNET_KDF })
      return { path, keys: k }
    },
    async expectKeystoreError(promise, code) {
      const err: unknown = await promise.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(KeystoreError)
      const ke = err as KeystoreError
      expect(ke.code).toBe(code)
      for (const secret of [opts.passphrase, ...(opts.secrets ?? [])]) {
        expect(ke.message).not.toContain(secret)
      }
      return ke
    },
  }
  return files
}

/** Rewrites the keystore JSON at `path` through `edit`. */
export async function tamper(path: string, edit: (doc: KeystoreDoc) => void): Promise<void> {
  const doc = JSON.parse(await readFile(path, 'utf8')) as KeystoreDoc
  edit(doc)
  await writeFile(path, JSON.stringify(doc))
}
