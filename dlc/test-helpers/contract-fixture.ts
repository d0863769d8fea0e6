import { sha256 } from '@noble/hashes/sha2.js'
import { utf8ToBytes } from '@noble/hashes/utils.js'
import { payments } from 'bitcoinjs-lib'
import { defaultDlcPolicy } from '../../protocol/index.js'
import type { FundingOutpoint } from '../funding.js'
import { compileContract, type CompiledContract } from '../compiler.js'
import { EphemeralKey } from '../ephemeral-key.js'
import { announceEvent, attestOutcome, type OracleAnnouncement, type OracleAttestation } from '../oracle/index.js'
import type { DlcRules, RuleContext } from '../rules.js'
import { bitcoinjsNetwork, type ContractTerms, type LockUnit } from '../terms.js'
import type { SpentOutput } from './interpreter.js'
import { testKey, testKeys, type TestKey } from './keys.js'

/**
 * A compiled 2-of-3-oracle contract for the CET and spending-path tests, fully deterministic:
 * guardian, oracle and ephemeral keys derive from fixed labels (none with a leading zero byte,
 * which bitcore's interpreter mishandles), 5 guardians, thresholds 3 (CET), 3 (timelock) and
 * 4 (emergency), two outcomes with different payouts.
 */

export const GUARDIANS = 5
export const OUTCOMES = ['repaid', 'defaulted'] as const
export const AMOUNT_SAT = 1_000_000n
/** "Now" for the rules: the time fixture locks 48 h after it, the height fixture 144 blocks above TIP_HEIGHT. */
export const NOW = 1_800_000_000
export const TIP_HEIGHT = 900_000
export const FUNDING: FundingOutpoint = { txid: '5f'.repeat(32), vout: 1 }

export interface TestOracle {
  readonly key: TestKey
  readonly nonceSecret: Uint8Array
  readonly announcement: OracleAnnouncement
}

export interface ContractFixture {
  readonly unit: LockUnit
  readonly contract: CompiledContract
  readonly funding: FundingOutpoint
  /** The contract output, as the interpreter needs it. */
  readonly spent: SpentOutput
  readonly guardians: readonly TestKey[]
  readonly oracles: readonly TestOracle[]
  /** Fresh, unused ephemeral keys (one per guardian) and a copy of each secret, for leak scans. */
  readonly ephemeral: readonly { readonly key: EphemeralKey; readonly secret: Uint8Array }[]
  /** Oracle `i` attests `outcome`. */
  attest(i: number, outcome: string): OracleAttestation
  /** A p2tr address on the contract's network (test destination). */
  address(label: string): string
}

export const RULES: DlcRules = { policy: defaultDlcPolicy(GUARDIANS), emergencyThreshold: 4, guardianCount: GUARDIANS, network: 'regtest' }
export const CONTEXT: RuleContext = { now: NOW, tipHeight: TIP_HEIGHT }

/** Ephemeral keys drawn from a deterministic byte source (label-derived), skipping leading-zero public keys. */
export function testEphemeralKey(label: string): { key: EphemeralKey; secret: Uint8Array } {
  for (let counter = 0; ; counter++) {
    let secret = new Uint8Array(0)
    const key = EphemeralKey.generate((n) => {
      const bytes = sha256(utf8ToBytes(`ubtc/dlc/test-ephemeral/${label}/${counter}`)).slice(0, n)
      secret = Uint8Array.from(bytes)
      return bytes
    })
    if (key.publicKey[0] !== 0) return { key, secret }
    key.erase()
  }
}

export function makeFixture(unit: LockUnit, label: string = unit): ContractFixture {
  const network = bitcoinjsNetwork('regtest')
  const address = (name: string): string => payments.p2tr({ internalPubkey: testKey(`${label}/address/${name}`).publicKey, network }).address!
  const guardians = testKeys(`${label}/guardian`, GUARDIANS)
  const ephemeral = Array.from({ length: GUARDIANS }, (_, i) => testEphemeralKey(`${label}/${i}`))
  const maturity = NOW + 3600
  const oracles: TestOracle[] = [0, 1, 2].map((i) => {
    const key = testKey(`${label}/oracle-${i}`)
    const nonceSecret = sha256(utf8ToBytes(`ubtc/dlc/test-nonce/${label}/${i}`))
    const announcement = announceEvent(key.secretKey, { eventId: `${label}-loan-42`, outcomes: [...OUTCOMES], maturity }, nonceSecret)
    return { key, nonceSecret, announcement }
  })
  const terms: ContractTerms = {
    version: 1,
    network: 'regtest',
    amountSat: AMOUNT_SAT,
    feeRate: 2,
    oracle: { threshold: 2, announcements: oracles.map((o) => o.announcement) },
    payouts: [
      { outcome: 'repaid', outputs: [{ address: address('borrower'), valueSat: 990_000n }] },
      {
        outcome: 'defaulted',
        outputs: [
          { address: address('lender'), valueSat: 700_000n },
          { address: address('borrower'), valueSat: 290_000n },
        ],
      },
    ],
    timelock: unit === 'height' ? { unit, lockedUntil: TIP_HEIGHT + 144 } : { unit, lockedUntil: NOW + 48 * 3600 },
    // a non-zero CET lock time in one fixture: the CET is valid from the event's maturity on
    cetLockTime: unit === 'height' ? 0 : maturity,
    ephemeralKeys: ephemeral.map((e) => e.key.publicKey),
    cetThreshold: 3,
    guardianKeys: guardians.map((g) => g.publicKey),
    timelockThreshold: 3,
    emergencyThreshold: 4,
  }
  const contract = compileContract(terms, RULES, CONTEXT)
  return {
    unit,
    contract,
    funding: FUNDING,
    spent: { script: contract.scriptPubKey, value: AMOUNT_SAT },
    guardians,
    oracles,
    ephemeral,
    attest: (i, outcome) => {
      const o = oracles[i]!
      return attestOutcome(o.key.secretKey, o.nonceSecret, o.announcement, outcome)
    },
    address,
  }
}
