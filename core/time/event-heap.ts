import { Nanoseconds } from './units';

/** One pending scheduler event; `cancelled` events stay in the queue and are skipped when popped. */
export interface ScheduledEvent {
  time: Nanoseconds;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Width of a far bucket: 2^20 ns, about 1 ms of virtual time. */
const BUCKET_NS = 2 ** 20;

/**
 * The scheduler's event queue, ordered by (time, seq): equal times run in the order they were
 * scheduled.
 *
 * It is a two-level calendar queue with a FIFO in front:
 * - Events of the current bucket (and earlier) sit in a binary min-heap whose keys live in typed
 *   arrays, so sifting compares contiguous numbers instead of chasing event objects.
 * - Later events are only appended to their bucket (time / 2^20 ns); when the heap runs empty the
 *   earliest bucket is heapified into it. Every heap event is in a bucket ≤ `current` and every
 *   bucketed one in a bucket > `current`, so a million far-future events cost an append each
 *   instead of a deep heap.
 * - A FIFO takes runs of events for one time of the current bucket (bursts of zero-delay work:
 *   tasklets, interrupt delivery): an event goes there when the FIFO is empty, or when it has the
 *   FIFO's time and a higher seq than its tail, so the FIFO is always in (time, seq) order. Pop
 *   takes the smaller of the FIFO's head and the heap's top; bucketed events come after both.
 * Pop order is exactly (time, seq) order.
 */
export class EventHeap {
  private times = new Float64Array(256);
  private seqs = new Float64Array(256);
  private events: ScheduledEvent[] = [];
  private n = 0;
  /** Highest bucket whose events go straight into the heap. */
  private current = 0;
  private readonly far = new Map<number, ScheduledEvent[]>();
  /** Min-heap of the bucket numbers in `far`. */
  private readonly farKeys: number[] = [];
  private farCount = 0;
  /** Same-time events: fifo[fifoHead…] all have time `fifoTime`, in seq order. */
  private fifo: ScheduledEvent[] = [];
  private fifoHead = 0;
  private fifoTime = NaN;

  get size(): number {
    return this.n + this.farCount + this.fifo.length - this.fifoHead;
  }

  peek(): ScheduledEvent | undefined {
    if (this.fifoHead < this.fifo.length) return this.heapFirst() ? this.events[0] : this.fifo[this.fifoHead];
    if (this.n === 0 && !this.refill()) return undefined;
    return this.events[0];
  }

  push(ev: ScheduledEvent): void {
    const time = ev.time;
    const bucket = Math.floor(time / BUCKET_NS);
    if (!(bucket > this.current)) {
      const fifo = this.fifo;
      if (this.fifoHead === fifo.length) {
        this.fifoTime = time;
        fifo.push(ev);
      } else if (time === this.fifoTime && ev.seq > fifo[fifo.length - 1].seq) fifo.push(ev);
      else this.heapPush(ev);
      return;
    }
    let list = this.far.get(bucket);
    if (list === undefined) {
      this.far.set(bucket, (list = []));
      keyPush(this.farKeys, bucket);
    }
    list.push(ev);
    this.farCount++;
  }

  pop(): ScheduledEvent | undefined {
    if (this.fifoHead < this.fifo.length && !this.heapFirst()) {
      const ev = this.fifo[this.fifoHead];
      this.fifo[this.fifoHead++] = undefined!;
      if (this.fifoHead === this.fifo.length) {
        this.fifo.length = 0;
        this.fifoHead = 0;
      } else if (this.fifoHead >= 4096 && this.fifoHead * 2 >= this.fifo.length) {
        this.fifo.splice(0, this.fifoHead);
        this.fifoHead = 0;
      }
      return ev;
    }
    if (this.n === 0 && !this.refill()) return undefined;
    const T = this.times;
    const S = this.seqs;
    const E = this.events;
    const top = E[0];
    const m = --this.n;
    const last = E.pop()!;
    if (m === 0) return top;
    this.siftDown(0, T[m], S[m], last);
    return top;
  }

  /**
   * With the FIFO non-empty: does the heap's top come before the FIFO's head? (Bucketed events
   * never do: the FIFO's events are in a bucket ≤ `current`.)
   */
  private heapFirst(): boolean {
    if (this.n === 0) return false;
    const t = this.times[0];
    return t < this.fifoTime || (t === this.fifoTime && this.seqs[0] < this.fifo[this.fifoHead].seq);
  }

  /** Move the earliest bucket into the (empty) heap; false when there is none. */
  private refill(): boolean {
    if (this.farCount === 0) return false;
    const bucket = keyPop(this.farKeys);
    const list = this.far.get(bucket)!;
    this.far.delete(bucket);
    this.farCount -= list.length;
    this.current = bucket;
    const k = list.length;
    if (this.times.length < k) this.grow(k);
    const T = this.times;
    const S = this.seqs;
    for (let i = 0; i < k; i++) {
      T[i] = list[i].time;
      S[i] = list[i].seq;
    }
    this.events = list;
    this.n = k;
    for (let i = (k >> 1) - 1; i >= 0; i--) this.siftDown(i, T[i], S[i], list[i]);
    return true;
  }

  private heapPush(ev: ScheduledEvent): void {
    if (this.n === this.times.length) this.grow(this.n + 1);
    const T = this.times;
    const S = this.seqs;
    const E = this.events;
    const time = ev.time;
    const seq = ev.seq;
    let i = this.n++;
    E.push(ev);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = T[p];
      if (pt < time || (pt === time && S[p] < seq)) break;
      T[i] = pt;
      S[i] = S[p];
      E[i] = E[p];
      i = p;
    }
    T[i] = time;
    S[i] = seq;
    E[i] = ev;
  }

  /** Place (time, seq, ev) at `i` or below, in a heap of `this.n` entries. */
  private siftDown(i: number, time: number, seq: number, ev: ScheduledEvent): void {
    const T = this.times;
    const S = this.seqs;
    const E = this.events;
    const m = this.n;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= m) break;
      let ct = T[c];
      let cs = S[c];
      const r = c + 1;
      if (r < m) {
        const rt = T[r];
        if (rt < ct || (rt === ct && S[r] < cs)) {
          c = r;
          ct = rt;
          cs = S[r];
        }
      }
      if (time < ct || (time === ct && seq < cs)) break;
      T[i] = ct;
      S[i] = cs;
      E[i] = E[c];
      i = c;
    }
    T[i] = time;
    S[i] = seq;
    E[i] = ev;
  }

  private grow(min: number): void {
    let cap = this.times.length * 2;
    while (cap < min) cap *= 2;
    const t = new Float64Array(cap);
    t.set(this.times.subarray(0, this.n));
    const s = new Float64Array(cap);
    s.set(this.seqs.subarray(0, this.n));
    this.times = t;
    this.seqs = s;
  }
}

function keyPush(a: number[], v: number): void {
  let i = a.length;
  a.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (a[p] <= v) break;
    a[i] = a[p];
    i = p;
  }
  a[i] = v;
}

function keyPop(a: number[]): number {
  const top = a[0];
  const last = a.pop()!;
  const n = a.length;
  if (n === 0) return top;
  let i = 0;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && a[c + 1] < a[c]) c++;
    if (last <= a[c]) break;
    a[i] = a[c];
    i = c;
  }
  a[i] = last;
  return top;
}
