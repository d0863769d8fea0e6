import { ConsensusEngine, SigningGuard, type LastSigned, type SignDecision, type ValueId } from '../index.js'
import type { SimBlock } from './app.js'
import type { EngineFactory, GuardFactory, GuardLike } from './node.js'

/**
 * Deliberately broken variants, to show that the simulator catches what it claims to catch
 * (`npm run sim -- --seeds 300 --n 4 --variant ignore-lock` must fail).
 */
export type VariantName = 'none' | 'ignore-lock' | 'amnesia' | 'amnesia-no-guard' | 'forget-own-votes'

export interface Variant {
  readonly makeEngine: EngineFactory
  readonly makeGuard: GuardFactory
  /** False: `persist` effects are dropped, so a restart forgets the lock (the amnesia attack). */
  readonly persistRoundState: boolean
  /** False: a restarted node does not feed its own stored messages of the height back to its engine. */
  readonly replayOwnOnRestart?: boolean
}

/** Prevotes whatever is proposed: Algorithm 1 without its lock (lines 22 and 28). */
export class IgnoreLockEngine<V> extends ConsensusEngine<V> {
  protected override prevoteAllowed(_valueId: ValueId, _polRound: number): boolean {
    return true
  }
}

/** A guard that signs anything (and remembers nothing useful). */
export class AlwaysSignGuard implements GuardLike {
  private lastSigned: LastSigned | undefined

  constructor(last?: LastSigned) {
    this.lastSigned = last
  }

  check(_msg: LastSigned): SignDecision {
    return 'sign'
  }

  record(msg: LastSigned): void {
    this.lastSigned = msg
  }

  get last(): LastSigned | undefined {
    return this.lastSigned
  }
}

const realEngine: EngineFactory = (params, restored) => new ConsensusEngine<SimBlock>(params, restored)
const realGuard: GuardFactory = (last) => new SigningGuard(last)

export const VARIANTS: Readonly<Record<VariantName, Variant>> = {
  none: { makeEngine: realEngine, makeGuard: realGuard, persistRoundState: true },
  'ignore-lock': { makeEngine: (params, restored) => new IgnoreLockEngine<SimBlock>(params, restored), makeGuard: realGuard, persistRoundState: true },
  amnesia: { makeEngine: realEngine, makeGuard: realGuard, persistRoundState: false },
  'amnesia-no-guard': { makeEngine: realEngine, makeGuard: (last) => new AlwaysSignGuard(last), persistRoundState: false },
  // A shell that does not feed a restarted engine its own earlier votes of the height (nobody sends a
  // node its own messages), so it cannot see a quorum that needs them (node/consensus/service.ts does).
  'forget-own-votes': { makeEngine: realEngine, makeGuard: realGuard, persistRoundState: true, replayOwnOnRestart: false },
}

export function isVariantName(name: string): name is VariantName {
  return Object.hasOwn(VARIANTS, name)
}
