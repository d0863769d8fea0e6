import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as ecc from 'tiny-secp256k1'
import { schnorr } from '@noble/curves/secp256k1.js'
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js'
import { describe, expect, it } from 'vitest'
import { bip322TaprootSighash, encodeSimpleSignature, p2trAddress, p2trScript } from '../../chains/index.js'
import { UsageError } from './usage-error.js'
import { verifyMessageCommand } from './verify-message.js'

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..')
const vectors = JSON.parse(readFileSync(resolve(repoRoot, '../shared/vectors/bip322.json'), 'utf8')) as {
  signing: { address: string; signatures: Record<string, string[]> }
}

async function run(args: readonly string[]): Promise<{ code: number; lines: string[]; json: Record<string, unknown> }> {
  const lines: string[] = []
  const code = await verifyMessageCommand(args, (line) => lines.push(line))
  expect(lines).toHaveLength(1)
  return { code, lines, json: JSON.parse(lines[0]!) as Record<string, unknown> }
}

/** A P2TR key-path proof on testnet, made with a BIP-86-tweaked single key. */
function taprootProof(message: string): { address: string; signature: string } {
  let secret: Uint8Array = schnorr.utils.randomSecretKey()
  const full = ecc.pointFromScalar(secret, true)!
  if (full[0] === 0x03) secret = ecc.privateNegate(secret)
  const tweaked = ecc.privateAdd(secret, schnorr.utils.taggedHash('TapTweak', full.slice(1)))!
  const outputKey = ecc.xOnlyPointFromScalar(tweaked)
  const sighash = bip322TaprootSighash(p2trScript(outputKey), utf8ToBytes(message))
  return { address: p2trAddress(outputKey, 'testnet'), signature: encodeSimpleSignature([ecc.signSchnorr(sighash, tweaked)]) }
}

describe('ubtc verify-message', () => {
  const proof = taprootProof('proof of reserves ✓')

  it('prints {"valid":true,…} and exits 0 for a valid P2TR proof', async () => {
    const result = await run(['--address', proof.address, '--message', 'proof of reserves ✓', '--signature', proof.signature, '--network', 'testnet'])
    expect(result.code).toBe(0)
    expect(result.lines[0]).toBe(JSON.stringify({ valid: true, address: proof.address, type: 'p2tr' }))
  })

  it('verifies the BIP-322 vector P2WPKH signatures, with --message (also empty) and --message-hex', async () => {
    const { address, signatures } = vectors.signing
    expect((await run(['--address', address, '--message', '', '--signature', signatures['']![0]!])).json).toEqual({ valid: true, address, type: 'p2wpkh' })
    const hex = bytesToHex(utf8ToBytes('Hello World'))
    for (const messageHex of [hex, `0x${hex.toUpperCase()}`]) {
      const result = await run(['--address', address, '--message-hex', messageHex, '--signature', signatures['Hello World']![1]!, '--network', 'mainnet'])
      expect(result).toMatchObject({ code: 0, json: { valid: true, type: 'p2wpkh' } })
    }
    expect((await run(['--address', address, '--message-hex', '', '--signature', signatures['']![1]!])).code).toBe(0)
  })

  it('prints {"valid":false,"reason":…} and exits 1 for an invalid proof', async () => {
    const changed = await run(['--address', proof.address, '--message', 'proof of reserves', '--signature', proof.signature])
    expect(changed.code).toBe(1)
    expect(changed.json).toEqual({ valid: false, reason: expect.stringMatching(/does not verify/) as unknown })
    const wrongNetwork = await run(['--address', proof.address, '--message', 'proof of reserves ✓', '--signature', proof.signature, '--network', 'mainnet'])
    expect(wrongNetwork).toMatchObject({ code: 1, json: { valid: false, reason: expect.stringMatching(/testnet address, expected a mainnet/) as unknown } })
    const garbage = await run(['--address', proof.address, '--message', 'x', '--signature', 'not base64!'])
    expect(garbage).toMatchObject({ code: 1, json: { valid: false, reason: expect.stringMatching(/not base64/) as unknown } })
    const badAddress = await run(['--address', 'bc1qqqqq', '--message', 'x', '--signature', proof.signature])
    expect(badAddress).toMatchObject({ code: 1, json: { valid: false } })
  })

  it('throws UsageError (exit 2) for a wrong command line', async () => {
    const { address, signature } = proof
    const cases: Array<[string[], RegExp]> = [
      [['--message', 'm', '--signature', signature], /--address A is required/],
      [['--address', address, '--message', 'm'], /--signature S .* is required/],
      [['--address', address, '--signature', signature], /--message M or --message-hex HEX is required/],
      [['--address', address, '--message', 'm', '--message-hex', '00', '--signature', signature], /not both/],
      [['--address', address, '--message', 'm', '--signature', signature, '--network', 'signet'], /--network must be one of mainnet, testnet, regtest/],
      [['--address', address, '--message-hex', 'abc', '--signature', signature], /even number of hex digits/],
      [['--address', address, '--message-hex', 'zz', '--signature', signature], /hex digits/],
      [['--address', address, '--message', 'm', '--signature', signature, '--json'], /Unknown option '--json'/],
      [['--address', address, '--message', 'm', '--signature', signature, 'extra'], /positional/],
      [['--address'], /argument missing/],
    ]
    for (const [args, message] of cases) {
      const lines: string[] = []
      const err = await verifyMessageCommand(args, (line) => lines.push(line)).then(
        () => null,
        (e: unknown) => e,
      )
      expect(err, args.join(' ')).toBeInstanceOf(UsageError)
      expect((err as Error).message).toMatch(message)
      expect(lines).toEqual([])
    }
  })
})
