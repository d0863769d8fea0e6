/**
 * Seeded pseudo-random numbers for the simulator: sfc32 (Chris Doty-Humphrey's Small Fast
 * Chaotic generator, 128-bit state, passes PractRand), seeded through splitmix32 so that
 * neighbouring seeds give unrelated streams. Every random choice of a simulation comes from
 * one of these; nothing in consensus/sim reads Math.random or the wall clock.
 */
export class Prng {
  private a: number
  private b: number
  private c: number
  private d: number

  /** `seed` is any safe integer (or a label-derived 32-bit value from `fork`). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`)
    let s = (seed >>> 0) ^ Math.imul(Math.floor(seed / 0x1_0000_0000) >>> 0, 0x9e3779b9)
    const split = (): number => {
      s = (s + 0x9e3779b9) | 0
      let z = s
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
      return (z ^ (z >>> 16)) >>> 0
    }
    this.a = split()
    this.b = split()
    this.c = split()
    this.d = split()
    // Discard the first outputs, as the sfc32 reference does after seeding.
    for (let i = 0; i < 12; i++) this.next()
  }

  /** Uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000
  }

  /** Uniform integer in [lo, hi] (inclusive); exact (rejection sampling, no modulo bias). */
  int(lo: number, hi: number): number {
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || hi < lo) throw new RangeError(`bad range [${lo}, ${hi}]`)
    const span = hi - lo + 1
    if (span > 0x1_0000_0000) return lo + Math.floor(this.float() * span)
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % span)
    let x = this.next()
    while (x >= limit) x = this.next()
    return lo + (x % span)
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list')
    return items[this.int(0, items.length - 1)]!
  }

  /** A shuffled copy (Fisher–Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice()
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i)
      const tmp = out[i]!
      out[i] = out[j]!
      out[j] = tmp
    }
    return out
  }

  /**
   * An independent generator derived from this one's next output and `label`, so one
   * subsystem drawing more numbers does not shift the choices of another.
   */
  fork(label: string): Prng {
    let h = 0x811c9dc5
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
    return new Prng(((this.next() ^ h) >>> 0) + 0x1_0000_0000 * (this.next() & 0x1f_ffff))
  }
}
