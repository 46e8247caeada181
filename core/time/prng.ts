import prand from 'pure-rand';

/** The world's seeded random source: every "random" choice in a simulation draws from here. */
export class Prng {
  private rng: prand.RandomGenerator;

  constructor(readonly seed: number) {
    this.rng = prand.xoroshiro128plus(seed);
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    return prand.unsafeUniformIntDistribution(min, max, this.rng);
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.int(0, 0x3fffffff) / 0x40000000;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(0, 255);
    return out;
  }

  /** An independent generator for a sub-system, so adding draws in one place does not shift another. */
  fork(): Prng {
    return new Prng(this.int(0, 0x7fffffff));
  }
}
