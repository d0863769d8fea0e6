import { privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { bytesToHex } from '@noble/hashes/utils.js'
import { atomicWrite, checkKdf, checkPassphrase, corrupt, cryptoHeaderJson, DEFAULT_KDF, deriveKey, JsonFields, pathExists, randomSalt, readJsonFile, seal, sealedJson, unseal, type KdfParams, type Sealed } from './encrypted-file.js'
import { KeystoreError } from './errors.js'

/**
 * A keystore holding a node's two keys in one sealed box (the guardian and the oracle keystore),
 * in the scheme of encrypted-file.ts:
 *
 *   {
 *     "format": …, "version": …,
 *     "public": { …string fields…, "peerId": "12D3Koo…" },
 *     "crypto": {
 *       "kdf": "scrypt", "kdfparams": { "n", "r", "p", "salt": hex32 },
 *       "cipher": "aes-256-gcm", "iv": hex12, "ciphertext": hex, "tag": hex16
 *     }
 *   }
 *
 * The plaintext is the UTF-8 JSON `{"<secret field>":hex32,"p2p":hex}`: the node's 32-byte
 * secp256k1 secret, and the libp2p protobuf encoding of its Ed25519 key (its peer id). The AAD
 * is the UTF-8 JSON `{"format","version","public":{…}}` with the public fields in `publicFields`
 * order, so editing the public section (or format/version) breaks authentication; kdfparams
 * need not be in it: changing them changes the key.
 *
 * Each keystore module keeps its own format, public fields, secret and their checks
 * (SealedKeystoreLayout); the flows (write, read, read the public part) are here.
 */

/** The plaintext is ~230 bytes; anything far bigger was not written by us. */
const MAX_CIPHERTEXT_BYTES = 1024
const MAX_FILE_BYTES = 64 * 1024
const SECRET_BYTES = 32

/** What every sealed keystore holds beside its secret: the node's libp2p key. */
export interface NodeKeys {
  /** Ed25519 libp2p key: the node's peer id. */
  readonly p2pPrivateKey: PrivateKey
}

type PublicPart<Public> = Readonly<Record<keyof Public, string>>

/** One keystore's own format: what is public, which secret it holds, and how both are checked. */
export interface SealedKeystoreLayout<Keys extends NodeKeys, Public extends PublicPart<Public>> {
  readonly format: string
  readonly version: number
  /** What the file is called in error messages. */
  readonly kind: string
  /** The fields of the `public` section, in file (and AAD) order. */
  readonly publicFields: readonly (keyof Public & string)[]
  readonly secret: {
    /** Its field in the plaintext. */
    readonly field: string
    /** What it is, in 'corrupt' messages: `payload.<field> is not a valid secp256k1 <name>`. */
    readonly name: string
    /** Whether 32 bytes are a valid secret. */
    readonly valid: (secret: Uint8Array) => boolean
  }
  secretOf(keys: Keys): Uint8Array
  keysOf(secret: Uint8Array, p2pPrivateKey: PrivateKey): Keys
  /** The public part of `keys`; RangeError (a caller bug) if they are invalid. */
  publicOf(keys: Keys): Public
  /** The `public` object (its fields already checked present and alone), strictly: 'corrupt' via `fields`. */
  parsePublic(fields: JsonFields, pub: Record<string, unknown>): Public
}

export interface SealedKeystore<Keys extends NodeKeys, Public extends PublicPart<Public>> {
  /**
   * Encrypts `keys` into a new keystore at `path`. The file appears atomically with mode 0600;
   * an existing file is left untouched ('exists') unless `overwrite` is set.
   */
  write(path: string, keys: Keys, passphrase: string, opts?: { kdf?: KdfParams; overwrite?: boolean }): Promise<Public>
  /**
   * Decrypts the keystore; the returned public part is re-derived from the keys and must match
   * the file's. `kdf` is the file's scrypt parameters (files kept beside it may reuse them).
   */
  read(path: string, passphrase: string): Promise<{ keys: Keys; public: Public; kdf: KdfParams }>
  /** The public section, without the passphrase: checked structurally, but only authenticated by a successful read. */
  readPublic(path: string): Promise<Public>
}

/** The keystore of `layout`. */
export function sealedKeystore<Keys extends NodeKeys, Public extends PublicPart<Public>>(layout: SealedKeystoreLayout<Keys, Public>): SealedKeystore<Keys, Public> {
  return {
    write: (path, keys, passphrase, opts = {}) => writeSealedKeystore(layout, path, keys, passphrase, opts),
    read: (path, passphrase) => readSealedKeystore(layout, path, passphrase),
    readPublic: async (path) => (await loadSealedKeystore(layout, path)).public,
  }
}

/** The peer id of the node's libp2p key; RangeError (a caller bug) for any key but Ed25519. */
export function p2pPeerId(key: PrivateKey): string {
  if (key.type !== 'Ed25519') throw new RangeError('p2p key must be Ed25519')
  return peerIdFromPrivateKey(key).toString()
}

/** `public.peerId`, which must be the canonical string of an Ed25519 peer id ('corrupt'). */
export function parsePublicPeerId(fields: JsonFields, pub: Record<string, unknown>): string {
  const peerId = fields.string(pub, 'public', 'peerId')
  if (!isEd25519PeerId(peerId)) throw fields.corrupt('public.peerId is not an Ed25519 peer id')
  return peerId
}

async function writeSealedKeystore<Keys extends NodeKeys, Public extends PublicPart<Public>>(
  layout: SealedKeystoreLayout<Keys, Public>,
  path: string,
  keys: Keys,
  passphrase: string,
  opts: { kdf?: KdfParams; overwrite?: boolean },
): Promise<Public> {
  checkPassphrase(layout.kind, path, passphrase)
  const kdf = opts.kdf ?? DEFAULT_KDF
  checkKdf(layout.kind, kdf)
  const overwrite = opts.overwrite === true
  const pub = layout.publicOf(keys)
  const exists = (): KeystoreError => new KeystoreError('exists', `${layout.kind} ${path} already exists (refusing to overwrite)`, { path })
  // Fail before the expensive KDF; the no-clobber link below is what actually guarantees it.
  if (!overwrite && (await pathExists(path))) throw exists()

  const salt = randomSalt()
  const plaintext = encodeSecrets(layout, keys)
  const key = await deriveKey(passphrase, salt, kdf)
  let sealed: Sealed
  try {
    sealed = seal(key, keystoreAad(layout, pub), plaintext)
  } finally {
    key.fill(0)
    plaintext.fill(0)
  }

  const doc = {
    format: layout.format,
    version: layout.version,
    public: orderedPublic(layout, pub),
    crypto: { ...cryptoHeaderJson(kdf, salt), ...sealedJson(sealed) },
  }
  await atomicWrite(layout.kind, path, `${JSON.stringify(doc, null, 2)}\n`, { replace: overwrite, exists })
  return pub
}

async function readSealedKeystore<Keys extends NodeKeys, Public extends PublicPart<Public>>(
  layout: SealedKeystoreLayout<Keys, Public>,
  path: string,
  passphrase: string,
): Promise<{ keys: Keys; public: Public; kdf: KdfParams }> {
  const file = await loadSealedKeystore(layout, path)
  const key = await deriveKey(passphrase, file.salt, file.kdf)
  let plaintext: Buffer
  try {
    plaintext = unseal(layout.kind, path, key, keystoreAad(layout, file.public), file.sealed)
  } finally {
    key.fill(0)
  }
  let keys: Keys
  try {
    keys = decodeSecrets(layout, new JsonFields(layout.kind, path), plaintext)
  } finally {
    plaintext.fill(0)
  }
  const derived = layout.publicOf(keys)
  for (const field of layout.publicFields) {
    if (derived[field] !== file.public[field]) {
      throw corrupt(layout.kind, path, `public.${field} does not match the encrypted private keys`)
    }
  }
  return { keys, public: derived, kdf: file.kdf }
}

async function loadSealedKeystore<Keys extends NodeKeys, Public extends PublicPart<Public>>(
  layout: SealedKeystoreLayout<Keys, Public>,
  path: string,
): Promise<{ public: Public; kdf: KdfParams; salt: Buffer; sealed: Sealed }> {
  const json = await readJsonFile(layout.kind, path, MAX_FILE_BYTES)
  if (json === undefined) throw new KeystoreError('not_found', `${layout.kind} ${path} does not exist`, { path })
  const fields = new JsonFields(layout.kind, path)
  const top = fields.document(json, layout.format, layout.version, ['public', 'crypto'])
  const pub = layout.parsePublic(fields, fields.object(top.public, 'public', layout.publicFields))
  const crypto = fields.object(top.crypto, 'crypto', ['kdf', 'kdfparams', 'cipher', 'iv', 'ciphertext', 'tag'])
  const { kdf, salt } = fields.cryptoHeader(crypto)
  return { public: pub, kdf, salt, sealed: fields.sealed(crypto, 'crypto', MAX_CIPHERTEXT_BYTES) }
}

/** The public fields in layout order: the file and the AAD do not depend on the caller's object layout. */
function orderedPublic<Keys extends NodeKeys, Public extends PublicPart<Public>>(layout: SealedKeystoreLayout<Keys, Public>, pub: Public): Record<string, string> {
  return Object.fromEntries(layout.publicFields.map((field): [string, string] => [field, pub[field]]))
}

function keystoreAad<Keys extends NodeKeys, Public extends PublicPart<Public>>(layout: SealedKeystoreLayout<Keys, Public>, pub: Public): Buffer {
  return Buffer.from(JSON.stringify({ format: layout.format, version: layout.version, public: orderedPublic(layout, pub) }), 'utf8')
}

/** The plaintext `{"<secret field>":hex32,"p2p":hex}`; the caller zeroes it. */
function encodeSecrets<Keys extends NodeKeys, Public extends PublicPart<Public>>(layout: SealedKeystoreLayout<Keys, Public>, keys: Keys): Buffer {
  return Buffer.from(JSON.stringify({ [layout.secret.field]: bytesToHex(layout.secretOf(keys)), p2p: p2pKeyHex(keys.p2pPrivateKey) }), 'utf8')
}

/** The keys of an authenticated plaintext ('corrupt' via `fields`); zeroes its own copies. */
function decodeSecrets<Keys extends NodeKeys, Public extends PublicPart<Public>>(layout: SealedKeystoreLayout<Keys, Public>, fields: JsonFields, plaintext: Buffer): Keys {
  // Authenticated, so only a buggy writer gets here with bad content; still, never trust it blindly.
  const { field, name, valid } = layout.secret
  const json = fields.parse(plaintext.toString('utf8'), 'encrypted payload is not valid JSON')
  const obj = fields.object(json, 'payload', [field, 'p2p'])
  const secretBytes = fields.hex(obj, 'payload', field, SECRET_BYTES, SECRET_BYTES)
  const p2p = fields.hex(obj, 'payload', 'p2p', 1, MAX_CIPHERTEXT_BYTES)
  try {
    const secret = new Uint8Array(secretBytes)
    if (!valid(secret)) throw fields.corrupt(`payload.${field} is not a valid secp256k1 ${name}`)
    return layout.keysOf(secret, p2pKeyFromBytes(fields, p2p, 'payload.p2p'))
  } finally {
    secretBytes.fill(0)
    p2p.fill(0)
  }
}

// --- libp2p keys ------------------------------------------------------------------------------

/** Whether `text` is the canonical string of an Ed25519 peer id. */
function isEd25519PeerId(text: string): boolean {
  try {
    const id = peerIdFromString(text)
    return id.type === 'Ed25519' && id.toString() === text
  } catch {
    return false
  }
}

/** The libp2p protobuf encoding of an Ed25519 key, lower-case hex; RangeError for any other key type. */
function p2pKeyHex(key: PrivateKey): string {
  if (key.type !== 'Ed25519') throw new RangeError('p2p key must be Ed25519')
  return Buffer.from(privateKeyToProtobuf(key)).toString('hex')
}

/** The Ed25519 key of its protobuf bytes (zeroed afterwards); 'corrupt' naming `where` otherwise. */
function p2pKeyFromBytes(fields: JsonFields, bytes: Buffer, where: string): PrivateKey {
  try {
    let key: PrivateKey
    try {
      key = privateKeyFromProtobuf(bytes)
    } catch {
      throw fields.corrupt(`${where} is not a libp2p private key`)
    }
    if (key.type !== 'Ed25519') throw fields.corrupt(`${where} is not an Ed25519 key`)
    return key
  } finally {
    bytes.fill(0)
  }
}
