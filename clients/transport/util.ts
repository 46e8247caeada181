import type { Kernel } from '../../core/kernel';
import type { WaitQueue } from '../../core/time/wait';

/**
 * struct tasklet_struct: `schedule` queues one softirq run (a no-op while one is queued; a run
 * that reschedules itself queues the next); `kill` waits until no run is queued.
 */
export class Tasklet {
  private scheduled = false;
  private readonly idle: WaitQueue;

  constructor(
    private readonly k: Kernel,
    private readonly name: string,
    private readonly fn: () => void,
  ) {
    this.idle = k.waitQueue();
  }

  get isScheduled(): boolean {
    return this.scheduled;
  }

  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    this.k.tasklet(() => {
      this.scheduled = false;
      try {
        this.fn();
      } catch (e) {
        this.k.oops(`tasklet ${this.name}`, e);
      }
      this.idle.wakeUp();
    });
  }

  /** tasklet_kill (process context). */
  async kill(): Promise<void> {
    await this.idle.waitEvent(() => !this.scheduled);
  }
}



/**
 * `%p` of a kernel pointer on a 64-bit kernel: NULL prints as 16 zeros; anything else as a keyed
 * 32-bit hash of the address (siphash in Linux), zero-padded to 16 hex digits. ntbsim keys the
 * hash with the host's random seed (no draw is taken, so nothing else shifts), which keeps it
 * stable within a run and different between hosts, as ptr_key is per boot.
 */
export function hashedPointer(k: Kernel, addr: bigint): string {
  if (addr === 0n) return '0'.repeat(16);
  let x = BigInt.asUintN(64, addr ^ (BigInt(k.prng.seed) * 0x9e3779b97f4a7c15n));
  // splitmix64 finaliser
  x = BigInt.asUintN(64, (x ^ (x >> 30n)) * 0xbf58476d1ce4e5b9n);
  x = BigInt.asUintN(64, (x ^ (x >> 27n)) * 0x94d049bb133111ebn);
  x ^= x >> 31n;
  return (x & 0xffffffffn).toString(16).padStart(16, '0');
}
