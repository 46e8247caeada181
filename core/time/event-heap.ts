import { Nanoseconds } from './units';

/** One pending scheduler event; `cancelled` events stay in the heap and are skipped when popped. */
export interface ScheduledEvent {
  time: Nanoseconds;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** Binary min-heap ordered by (time, seq): equal times run in the order they were scheduled. */
export class EventHeap {
  private items: ScheduledEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): ScheduledEvent | undefined {
    return this.items[0];
  }

  push(ev: ScheduledEvent): void {
    const a = this.items;
    let i = a.length;
    a.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = a[parent];
      if (p.time < ev.time || (p.time === ev.time && p.seq < ev.seq)) break;
      a[i] = p;
      i = parent;
    }
    a[i] = ev;
  }

  pop(): ScheduledEvent | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && (a[r].time < a[l].time || (a[r].time === a[l].time && a[r].seq < a[l].seq))) c = r;
      const child = a[c];
      if (last.time < child.time || (last.time === child.time && last.seq < child.seq)) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }
}
