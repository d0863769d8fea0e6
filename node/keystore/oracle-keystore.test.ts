import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import {
  generateOracleKeys,
  oraclePublicInfo,
  readKeystore,
  readOracleKeystore,
  readOracleKeystorePublic,
  TESTNET_KDF,
  writeOracleKeystore,
} from './index.js'
import { keystoreFiles, tamper, type KeystoreDoc } from './test-helpers/keystore-files.js'

const PASS = 'oracle passphrase 1'
const files = keystoreFiles({ prefix: 'ubtc-oracle-keystore-', fileName: 'oracle.json', passphrase: PASS, generate: generateOracleKeys, write: writeOracleKeystore })
const { fresh, writeFresh, expectKeystoreError } = files

describe('oracle keystore', () => {
  it('round-trips both keys; the public part is the BIP-340 x-only key and the peer id', async () => {
    const keys = await generateOracleKeys()
    const path = fresh()
    const written = await writeOracleKeystore(path, keys, PASS, { kdf: TESTNET_KDF })
    expect(written).toEqual(oraclePublicInfo(keys))
    expect(written.publicKey).toBe(bytesToHex(schnorr.getPublicKey(keys.oracleSecretKey)))
    expect(written.peerId).toBe(peerIdFromPrivateKey(keys.p2pPrivateKey).toString())

    const read = await readOracleKeystore(path, PASS)
    expect(bytesToHex(read.keys.oracleSecretKey)).toBe(bytesToHex(keys.oracleSecretKey))
    expect(peerIdFromPrivateKey(read.keys.p2pPrivateKey).toString()).toBe(written.peerId)
    expect(read.public).toEqual(written)
    expect(read.kdf).toEqual(TESTNET_KDF)
    expect(await readOracleKeystorePublic(path)).toEqual(written)

    const text = await readFile(path, 'utf8')
    const doc = JSON.parse(text) as KeystoreDoc
    expect(doc.format).toBe('ubtc-oracle-keystore')
    expect(doc.version).toBe(1)
    expect(Object.keys(doc.public)).toEqual(['publicKey', 'peerId'])
    expect(text).not.toContain(bytesToHex(keys.oracleSecretKey))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('a signature made with the read key verifies under the public key', async () => {
    const { path } = await writeFresh()
    const { keys, public: pub } = await readOracleKeystore(path, PASS)
    const message = new Uint8Array(32).fill(7)
    expect(schnorr.verify(schnorr.sign(message, keys.oracleSecretKey), message, Buffer.from(pub.publicKey, 'hex'))).toBe(true)
  })

  it('rejects a wrong passphrase', async () => {
    const { path } = await writeFresh()
    const err = await expectKeystoreError(readOracleKeystore(path, 'not the passphrase'), 'wrong_passphrase')
    expect(err.message).toContain(`oracle keystore ${path}`)
  })

  it('refuses to overwrite unless asked, and refuses weak passphrases', async () => {
    const { path, keys } = await writeFresh()
    await expectKeystoreError(writeOracleKeystore(path, await generateOracleKeys(), PASS, { kdf: TESTNET_KDF }), 'exists')
    expect((await readOracleKeystore(path, PASS)).public).toEqual(oraclePublicInfo(keys))
    const other = await generateOracleKeys()
    await writeOracleKeystore(path, other, PASS, { kdf: TESTNET_KDF, overwrite: true })
    expect((await readOracleKeystore(path, PASS)).public).toEqual(oraclePublicInfo(other))
    await expectKeystoreError(writeOracleKeystore(fresh(), other, 'short', { kdf: TESTNET_KDF }), 'weak_passphrase')
  })

  it('refuses invalid keys when writing', async () => {
    const keys = await generateOracleKeys()
    expect(() => oraclePublicInfo({ ...keys, oracleSecretKey: new Uint8Array(32) })).toThrow(RangeError)
    expect(() => oraclePublicInfo({ ...keys, oracleSecretKey: new Uint8Array(31).fill(1) })).toThrow(RangeError)
    const secp = await generateKeyPair('secp256k1')
    expect(() => oraclePublicInfo({ ...keys, p2pPrivateKey: secp })).toThrow(/Ed25519/)
  })

  it('a tampered public part fails authentication (AAD), a malformed one is corrupt', async () => {
    const { path } = await writeFresh()
    const other = oraclePublicInfo(await generateOracleKeys())
    await tamper(path, (doc) => {
      doc.public.publicKey = other.publicKey
    })
    await expectKeystoreError(readOracleKeystore(path, PASS), 'wrong_passphrase')
    // The unauthenticated reader sees a well-formed file: only the passphrase proves it.
    expect((await readOracleKeystorePublic(path)).publicKey).toBe(other.publicKey)

    await tamper(path, (doc) => {
      doc.public.publicKey = other.publicKey.toUpperCase()
    })
    expect((await expectKeystoreError(readOracleKeystorePublic(path), 'corrupt')).message).toContain('public.publicKey')
    await tamper(path, (doc) => {
      // x = 5 is not the x coordinate of a secp256k1 point.
      doc.public.publicKey = '00'.repeat(31) + '05'
    })
    expect((await expectKeystoreError(readOracleKeystorePublic(path), 'corrupt')).message).toContain('not an x-only secp256k1 point')
    await tamper(path, (doc) => {
      doc.public.publicKey = other.publicKey
      doc.public.peerId = 'not-a-peer-id'
    })
    expect((await expectKeystoreError(readOracleKeystorePublic(path), 'corrupt')).message).toContain('public.peerId')
  })

  describe('strict parsing', () => {
    const cases: Array<[string, (doc: KeystoreDoc) => void, string]> = [
      ['an unknown top-level field', (doc) => void (doc.extra = 1), 'unexpected field extra'],
      ['an unknown public field', (doc) => void (doc.public.name = 'oracle'), 'unexpected field public.name'],
      ['a missing public field', (doc) => void delete doc.public.peerId, 'missing field public.peerId'],
      ['a missing crypto field', (doc) => void delete doc.crypto.tag, 'missing field crypto.tag'],
      ['another format', (doc) => void (doc.format = 'ubtc-guardian-keystore'), 'format is not "ubtc-oracle-keystore"'],
      ['another version', (doc) => void (doc.version = 2), 'unsupported version'],
      ['a short iv', (doc) => void (doc.crypto.iv = '00'.repeat(11)), 'crypto.iv is 11 bytes'],
    ]
    for (const [what, edit, message] of cases) {
      it(`refuses ${what}`, async () => {
        const { path } = await writeFresh()
        await tamper(path, edit)
        expect((await expectKeystoreError(readOracleKeystore(path, PASS), 'corrupt')).message).toContain(message)
      })
    }

    it('refuses text that is not JSON, and a missing file is not_found', async () => {
      const { path } = await writeFresh()
      await writeFile(path, '{"format":')
      await expectKeystoreError(readOracleKeystorePublic(path), 'corrupt')
      await expectKeystoreError(readOracleKeystore(join(files.dir, 'missing.json'), PASS), 'not_found')
    })

    it('a guardian keystore is not an oracle keystore, nor the reverse', async () => {
      const { path } = await writeFresh()
      await expectKeystoreError(readKeystore(path, PASS), 'corrupt')
    })
  })
})
