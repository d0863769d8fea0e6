import { decodeCanonical, encodeCanonical, readBytes, readTuple, readUint } from './codec.js'
import { ProtocolError } from './errors.js'
import type { GuardianInfo, GuardianSet } from './genesis.js'
import { keccak256, taggedKeccak256, u32be } from './hash.js'
import { signDigest, verifyDigest, VOTE_SIGNATURE_BYTES } from './vote-key.js'

/** What an envelope carries; the kind is signed, so a payload cannot be replayed as another kind. */
export enum MessageKind {
  Heartbeat = 1,
  Proposal = 2,
  Vote = 3,
  Tx = 4,
  /** A node's latest consensus messages again, re-gossiped because gossipsub may lose them. */
  Rebroadcast = 5,
  /**
   * A guardian's FROST DKG round-1 package (see protocol/dkg.ts). Pulled over the `dkg/1`
   * request-response protocol only, never gossiped: no gossip topic carries this kind.
   */
  DkgRound1 = 6,
}

/** The kinds that travel on gossip topics; the others are pulled over request-response protocols. */
export type GossipKind = Exclude<MessageKind, MessageKind.DkgRound1>

const KNOWN_KINDS = new Set<number>(Object.values(MessageKind).filter((v): v is number => typeof v === 'number'))

/** Largest envelope accepted from the network, and the payload limit per kind. */
export const MAX_PAYLOAD_BYTES: Readonly<Record<MessageKind, number>> = {
  [MessageKind.Heartbeat]: 1024,
  [MessageKind.Proposal]: 1024 * 1024,
  [MessageKind.Vote]: 256,
  [MessageKind.Tx]: 16 * 1024,
  [MessageKind.Rebroadcast]: 1024 * 1024 + 64 * 1024,
  // sessionId, attempt, identifier, up to MAX_GUARDIANS commitments of 33 bytes, a 64-byte proof.
  [MessageKind.DkgRound1]: 4 * 1024,
}
/** Envelope framing (version, kind, indexes, signature) adds well under 256 bytes. */
export const MAX_ENVELOPE_BYTES = Math.max(...Object.values(MAX_PAYLOAD_BYTES)) + 256

const ENVELOPE_VERSION = 1
const SIGNING_TAG = 'UBTC/envelope/v1'

/** A payload signed by one guardian of one guardian set. */
export interface SignedEnvelope {
  readonly kind: MessageKind
  readonly guardianSetIndex: number
  /** Index of the signer in the guardian set. */
  readonly signer: number
  readonly payload: Uint8Array
  /** secp256k1 ECDSA r ‖ s ‖ v over {@link envelopeDigest}. */
  readonly signature: Uint8Array
}

/**
 * The digest a guardian signs: keccak256 over the domain tag, the network id (genesis hash),
 * the guardian set index, the kind and keccak256(payload). Binding the network id keeps a
 * signature from one network (or testnet) from being replayed on another.
 */
export function envelopeDigest(networkId: Uint8Array, kind: MessageKind, guardianSetIndex: number, payload: Uint8Array): Uint8Array {
  return taggedKeccak256(SIGNING_TAG, networkId, u32be(guardianSetIndex), new Uint8Array([kind]), keccak256(payload))
}

export function signEnvelope(
  networkId: Uint8Array,
  kind: MessageKind,
  guardianSetIndex: number,
  signer: number,
  payload: Uint8Array,
  privateKey: Uint8Array,
): SignedEnvelope {
  const signature = signDigest(envelopeDigest(networkId, kind, guardianSetIndex, payload), privateKey)
  return { kind, guardianSetIndex, signer, payload, signature }
}

export function encodeEnvelope(envelope: SignedEnvelope): Uint8Array {
  return encodeCanonical([ENVELOPE_VERSION, envelope.kind, envelope.guardianSetIndex, envelope.signer, envelope.payload, envelope.signature])
}

/** Decodes the envelope's structure and size limits; does not check the signature. */
export function decodeEnvelope(bytes: Uint8Array): SignedEnvelope {
  const [kind, setIndex, signer, payload, signature] = readTuple(decodeCanonical(bytes, MAX_ENVELOPE_BYTES, 'envelope'), ENVELOPE_VERSION, 5, 'envelope')
  const kindNumber = readUint(kind, 255, 'envelope.kind')
  if (!KNOWN_KINDS.has(kindNumber)) throw new ProtocolError('wrong_kind', `envelope.kind: unknown kind ${kindNumber}`)
  const messageKind = kindNumber as MessageKind
  return {
    kind: messageKind,
    guardianSetIndex: readUint(setIndex, 2 ** 32 - 1, 'envelope.guardianSetIndex'),
    signer: readUint(signer, 255, 'envelope.signer'),
    payload: readBytes(payload, 'envelope.payload', { max: MAX_PAYLOAD_BYTES[messageKind] }),
    signature: readBytes(signature, 'envelope.signature', { exact: VOTE_SIGNATURE_BYTES }),
  }
}

/** Checks that the signer belongs to the current guardian set and that the signature is theirs. */
export function verifyEnvelope(networkId: Uint8Array, guardians: GuardianSet, envelope: SignedEnvelope): GuardianInfo {
  if (envelope.guardianSetIndex !== guardians.index) {
    throw new ProtocolError('unknown_signer', `envelope signed for guardian set ${envelope.guardianSetIndex}, current is ${guardians.index}`)
  }
  const signer = guardians.at(envelope.signer)
  if (signer === undefined) throw new ProtocolError('unknown_signer', `envelope signer ${envelope.signer} is not in the guardian set`)
  const digest = envelopeDigest(networkId, envelope.kind, envelope.guardianSetIndex, envelope.payload)
  if (!verifyDigest(digest, envelope.signature, signer.votePublicKey)) {
    throw new ProtocolError('bad_signature', `envelope signature does not match guardian ${signer.name}`)
  }
  return signer
}
