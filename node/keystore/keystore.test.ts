import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import {
  generateGuardianKeys,
  publicInfo,
  readKeystore,
  readKeystorePublic,
  readPassphrase,
  TESTNET_KDF,
  writeKeystore,
} from './index.js'
import { keystoreFiles, tamper } from './test-helpers/keystore-files.js'

const PASS = 'correct horse battery staple'
const files = keystoreFiles({
  prefix: 'ubtc-keystore-',
  fileName: 'guardian.json',
  passphrase: PASS,
  secrets: ['short', 'wrong passphrase!', 'from-env-secret', 'from-file-secret'],
  generate: generateGuardianKeys,
  write: writeKeystore,
})
const { fresh, writeFresh, expectKeystoreError } = files

describe('keystore', () => {
  it('round-trips both keys and exposes public info without the passphrase', async () => {
    const keys = await generateGuardianKeys()
    const path = fresh()
    const written = await writeKeystore(path, keys, PASS, { kdf: TESTNET_KDF })
    expect(written).toEqual(publicInfo(keys))
    expect(written.votePublicKey).toMatch(/^0[23][0-9a-f]{64}$/)
    expect(written.address).toMatch(/^0x[0-9a-f]{40}$/)

    const read = await readKeystore(path, PASS)
    expect(Buffer.from(read.keys.votePrivateKey).equals(Buffer.from(keys.votePrivateKey))).toBe(true)
    expect(read.keys.p2pPrivateKey.type).toBe('Ed25519')
    expect(peerIdFromPrivateKey(read.keys.p2pPrivateKey).toString()).toBe(peerIdFromPrivateKey(keys.p2pPrivateKey).toString())
    expect(read.public).toEqual(written)
    expect(await readKeystorePublic(path)).toEqual(written)

    const doc = JSON.parse(await readFile(path, 'utf8'))
    expect(doc.format).toBe('ubtc-guardian-keystore')
    expect(doc.version).toBe(1)
    expect(doc.crypto.kdfparams).toMatchObject({ n: TESTNET_KDF.n, r: 8, p: 1 })
    // No private key material in the clear.
    const text = await readFile(path, 'utf8')
    expect(text).not.toContain(Buffer.from(keys.votePrivateKey).toString('hex'))
  })

  it('writes the file with mode 0600, creating the parent directory', async () => {
    const { path } = await writeFresh()
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(path, '..'))).mode & 0o077).toBe(0)
  })

  it('rejects a wrong passphrase and leaves the file alone', async () => {
    const { path } = await writeFresh()
    const before = await readFile(path)
    const err = await expectKeystoreError(readKeystore(path, 'wrong passphrase!'), 'wrong_passphrase')
    expect(err.message).toContain(path)
    expect(err.path).toBe(path)
    expect((await readFile(path)).equals(before)).toBe(true)
  })

  it('refuses to overwrite unless asked', async () => {
    const { path, keys } = await writeFresh()
    const before = await readFile(path)
    const other = await generateGuardianKeys()
    await expectKeystoreError(writeKeystore(path, other, PASS, { kdf: TESTNET_KDF }), 'exists')
    expect((await readFile(path)).equals(before)).toBe(true)
    expect((await readKeystore(path, PASS)).public).toEqual(publicInfo(keys))

    await writeKeystore(path, other, PASS, { kdf: TESTNET_KDF, overwrite: true })
    expect((await readKeystore(path, PASS)).public).toEqual(publicInfo(other))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('rejects a weak passphrase before touching disk', async () => {
    const path = fresh()
    await expectKeystoreError(writeKeystore(path, await generateGuardianKeys(), 'short', { kdf: TESTNET_KDF }), 'weak_passphrase')
    await expectKeystoreError(readKeystorePublic(path), 'not_found')
  })

  it('reports a missing file as not_found', async () => {
    const path = join(files.dir, 'nope.json')
    const err = await expectKeystoreError(readKeystore(path, PASS), 'not_found')
    expect(err.message).toContain(path)
    await expectKeystoreError(readKeystorePublic(path), 'not_found')
  })

  describe('corrupt files', () => {
    it('not JSON', async () => {
      const { path } = await writeFresh()
      await writeFile(path, '{ not json')
      const err = await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
      expect(err.message).toContain(path)
      await expectKeystoreError(readKeystorePublic(path), 'corrupt')
    })

    it('missing field', async () => {
      const { path } = await writeFresh()
      await tamper(path, (doc) => {
        delete doc.crypto.tag
      })
      const err = await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
      expect(err.message).toContain('crypto.tag')
    })

    it('bad hex', async () => {
      const { path } = await writeFresh()
      await tamper(path, (doc) => {
        doc.crypto.iv = 'zz'.repeat(12)
      })
      expect((await expectKeystoreError(readKeystore(path, PASS), 'corrupt')).message).toContain('crypto.iv')
      await tamper(path, (doc) => {
        doc.crypto.iv = '00'.repeat(11)
      })
      expect((await expectKeystoreError(readKeystore(path, PASS), 'corrupt')).message).toContain('crypto.iv')
    })

    it('wrong format, unexpected field', async () => {
      const { path } = await writeFresh()
      await tamper(path, (doc) => {
        doc.extra = 1
      })
      await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
      await tamper(path, (doc) => {
        delete doc.extra
        doc.format = 'something-else'
      })
      await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
    })

    it('a flipped ciphertext bit fails authentication', async () => {
      const { path } = await writeFresh()
      await tamper(path, (doc) => {
        const ct = Buffer.from(doc.crypto.ciphertext as string, 'hex')
        ct[0] = (ct[0] ?? 0) ^ 1
        doc.crypto.ciphertext = ct.toString('hex')
      })
      await expectKeystoreError(readKeystore(path, PASS), 'wrong_passphrase')
    })

    it('an edited public section fails authentication (AAD)', async () => {
      const { path } = await writeFresh()
      const otherPeer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
      await tamper(path, (doc) => {
        doc.public.peerId = otherPeer
      })
      await expectKeystoreError(readKeystore(path, PASS), 'wrong_passphrase')
      // A peer id that doesn't even parse is caught structurally.
      await tamper(path, (doc) => {
        doc.public.peerId = 'not-a-peer-id'
      })
      await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
    })

    it('an address that does not match the vote key', async () => {
      const { path } = await writeFresh()
      await tamper(path, (doc) => {
        doc.public.address = `0x${'11'.repeat(20)}`
      })
      await expectKeystoreError(readKeystorePublic(path), 'corrupt')
    })

    it('absurd kdf parameters are refused without running scrypt', async () => {
      const { path } = await writeFresh()
      await tamper(path, (doc) => {
        doc.crypto.kdfparams.n = 2 ** 30
      })
      const started = Date.now()
      const err = await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
      expect(Date.now() - started).toBeLessThan(1000)
      expect(err.message).toContain('kdfparams')
      await tamper(path, (doc) => {
        doc.crypto.kdfparams.n = 3000
      })
      await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
      await tamper(path, (doc) => {
        doc.crypto.kdfparams.n = 2 ** 14
        doc.crypto.kdfparams.r = 0
      })
      await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
    })
  })
})

describe('readPassphrase', () => {
  it('reads a file and strips one trailing newline', async () => {
    const file = join(files.dir, 'pass-lf')
    await writeFile(file, 'from-file-secret\n')
    expect(await readPassphrase({ file, env: { UBTC_PASSPHRASE: 'from-env-secret' } })).toBe('from-file-secret')
    await writeFile(file, 'from-file-secret\r\n')
    expect(await readPassphrase({ file, env: {} })).toBe('from-file-secret')
    await writeFile(file, 'from-file-secret\n\n')
    expect(await readPassphrase({ file, env: {} })).toBe('from-file-secret\n')
  })

  it('falls back to UBTC_PASSPHRASE', async () => {
    expect(await readPassphrase({ env: { UBTC_PASSPHRASE: 'from-env-secret' } })).toBe('from-env-secret')
  })

  it('without either, tells the operator what to do', async () => {
    const err = await expectKeystoreError(readPassphrase({ env: {} }), 'no_passphrase')
    expect(err.message).toContain('--passphrase-file')
    expect(err.message).toContain('UBTC_PASSPHRASE')
  })

  it('an empty file is no passphrase; a missing one is not_found', async () => {
    const file = join(files.dir, 'pass-empty')
    await writeFile(file, '\n')
    await expectKeystoreError(readPassphrase({ file, env: { UBTC_PASSPHRASE: 'from-env-secret' } }), 'no_passphrase')
    await expectKeystoreError(readPassphrase({ file: join(files.dir, 'pass-missing'), env: {} }), 'not_found')
  })
})
