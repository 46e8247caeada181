import { Subject } from 'rxjs';
import { Errno, KernelError } from '../errno';
import { PseudoFs } from '../fs/pseudofs';
import { Printk } from '../printk';
import { Scheduler } from '../time/scheduler';
import { LocalApics } from './apic';
import { IRQF_SHARED, IrqAction, IrqDesc, IrqHandler, IrqReturn, IrqThreadFn } from './irqdesc';
import { VectorMatrix } from './vector';

/** What an interrupt controller domain does for its irqs (the MSI domain implements this). */
export interface IrqChip {
  /** Called at request time (irq_startup: unmask). */
  startup?(desc: IrqDesc): void;
  /** Called when the last action is freed (irq_shutdown: mask). */
  shutdown?(desc: IrqDesc): void;
  /** Route the irq to a CPU of `cpus` (irq_set_affinity). */
  setAffinity(desc: IrqDesc, cpus: Set<number>): void;
}

export interface IrqEvent {
  time: number;
  irq: number;
  cpu: number;
  name: string;
}

/** Linux numbers dynamic irqs after the IOAPIC's pins. */
const FIRST_DYNAMIC_IRQ = 24;

/**
 * The generic IRQ layer of one kernel: descriptors, request/free of (threaded) handlers, the x86
 * vector → irq dispatch, affinity, counts, and the /proc/interrupts and /proc/irq views.
 */
export class IrqCore {
  readonly descs = new Map<number, IrqDesc>();
  readonly chips = new Map<number, IrqChip>();
  readonly vectors: VectorMatrix;
  readonly irq$ = new Subject<IrqEvent>();
  private nextIrq = FIRST_DYNAMIC_IRQ;
  private freeIrqs: number[] = [];
  private threadRunning = new WeakSet<IrqAction>();

  constructor(
    private readonly sched: Scheduler,
    private readonly printk: Printk,
    private readonly procfs: PseudoFs,
    private readonly hostName: string,
    apics: LocalApics,
    /** CPU time of interrupt entry and exit, charged to each handler run (HostTiming.irqEntryNs). */
    private readonly irqEntryNs = 0,
  ) {
    this.vectors = new VectorMatrix(apics.cpus);
    apics.setIdtHandler((cpu, vector) => this.handleVector(cpu, vector));
    procfs.createFile('/proc/interrupts', 0o444, { show: () => this.procInterrupts() });
    procfs.mkdir('/proc/irq');
  }

  get cpus(): number {
    return this.vectors.cpus;
  }

  /** irq_domain_alloc_irqs: a fresh descriptor for a hardware irq of `chip`. */
  allocDesc(hwirq: number, chipName: string, chip: IrqChip): IrqDesc {
    const irq = this.freeIrqs.length ? this.freeIrqs.shift()! : this.nextIrq++;
    const desc = new IrqDesc(irq, hwirq, chipName, this.cpus);
    this.descs.set(irq, desc);
    this.chips.set(irq, chip);
    this.createProcIrq(desc);
    return desc;
  }

  freeDesc(desc: IrqDesc): void {
    if (desc.actions.length) throw new KernelError(Errno.EBUSY, `irq ${desc.irq} still has handlers`);
    this.vectors.free(desc.cpu, desc.vector);
    this.descs.delete(desc.irq);
    this.chips.delete(desc.irq);
    this.procfs.remove(`/proc/irq/${desc.irq}`);
    this.freeIrqs.push(desc.irq);
    this.freeIrqs.sort((a, b) => a - b);
  }

  desc(irq: number): IrqDesc {
    const d = this.descs.get(irq);
    if (!d) throw new KernelError(Errno.EINVAL, `no irq ${irq}`);
    return d;
  }

  requestIrq(irq: number, handler: IrqHandler, flags: number, name: string, devId: unknown): void {
    this.requestThreadedIrq(irq, handler, undefined, flags, name, devId);
  }

  /** request_threaded_irq: a hard handler, a thread function, or both. */
  requestThreadedIrq(irq: number, handler: IrqHandler | undefined, threadFn: IrqThreadFn | undefined, flags: number, name: string, devId: unknown): void {
    const desc = this.descs.get(irq);
    if (!desc) throw new KernelError(Errno.EINVAL, `request_irq: no irq ${irq}`);
    if (!handler && !threadFn) throw new KernelError(Errno.EINVAL, 'request_irq: no handler');
    if ((flags & IRQF_SHARED) && devId === undefined) throw new KernelError(Errno.EINVAL, 'shared irq needs a dev_id');
    if (desc.actions.length && !(flags & IRQF_SHARED && desc.actions.every((a) => a.flags & IRQF_SHARED))) {
      throw new KernelError(Errno.EBUSY, `irq ${irq} already in use by ${desc.name}`);
    }
    desc.actions.push({ handler, threadFn, flags, name, devId, threadPending: false });
    if (desc.actions.length === 1) this.chips.get(irq)?.startup?.(desc);
  }

  freeIrq(irq: number, devId: unknown): void {
    const desc = this.desc(irq);
    const i = desc.actions.findIndex((a) => a.devId === devId);
    if (i < 0) throw new KernelError(Errno.EINVAL, `Trying to free already-free IRQ ${irq}`);
    desc.actions.splice(i, 1);
    if (desc.actions.length === 0) this.chips.get(irq)?.shutdown?.(desc);
  }

  disableIrq(irq: number): void {
    this.desc(irq).depth++;
  }

  enableIrq(irq: number): void {
    const d = this.desc(irq);
    if (d.depth > 0) d.depth--;
  }

  /** irq_set_affinity: `cpus` must contain an online CPU. */
  setAffinity(irq: number, cpus: Set<number>): void {
    const desc = this.desc(irq);
    const valid = new Set([...cpus].filter((c) => c < this.cpus));
    if (valid.size === 0) throw new KernelError(Errno.EINVAL, 'affinity has no online CPU');
    const chip = this.chips.get(irq);
    if (!chip) throw new KernelError(Errno.EIO, `irq ${irq} cannot be moved`);
    chip.setAffinity(desc, valid);
    desc.affinity = valid;
  }

  /** The CPU took `vector`: run the irq's handlers (hard irq context). */
  handleVector(cpu: number, vector: number): void {
    const irq = this.vectors.lookup(cpu, vector);
    const desc = irq === undefined ? undefined : this.descs.get(irq);
    if (!desc) {
      this.printk.log(4, `do_IRQ: ${cpu}.${vector} No irq handler for vector`);
      return;
    }
    desc.counts[cpu]++;
    if (desc.depth > 0 || desc.actions.length === 0) {
      desc.spurious++;
      return;
    }
    if (this.irq$.observed) this.irq$.next({ time: this.sched.now, irq: desc.irq, cpu, name: desc.name });
    if (this.sched.tracing) this.sched.trace(this.hostName, 'irq', `${desc.irq} cpu${cpu} ${desc.name}`);
    this.sched.charge(this.irqEntryNs);
    for (const action of desc.actions) {
      const ret = action.handler ? action.handler(desc.irq, action.devId) : IrqReturn.WAKE_THREAD;
      if (ret === IrqReturn.WAKE_THREAD && action.threadFn) this.wakeThread(desc, action);
    }
  }

  private wakeThread(desc: IrqDesc, action: IrqAction): void {
    if (action.threadPending) return;
    action.threadPending = true;
    // One irq thread per action: a wake-up while it runs makes it run once more, never twice at once.
    if (this.threadRunning.has(action)) return;
    this.threadRunning.add(action);
    const fn = action.threadFn!;
    this.sched.spawn(`irq/${desc.irq}-${action.name}`, async () => {
      try {
        while (action.threadPending) {
          action.threadPending = false;
          await fn(desc.irq, action.devId);
        }
      } finally {
        this.threadRunning.delete(action);
      }
    });
  }

  private createProcIrq(desc: IrqDesc): void {
    const dir = `/proc/irq/${desc.irq}`;
    this.procfs.mkdir(dir);
    const mask = () => [...desc.affinity].reduce((m, c) => m | (1 << c), 0);
    this.procfs.createFile(`${dir}/smp_affinity`, 0o644, {
      show: () => `${mask().toString(16).padStart(Math.ceil(this.cpus / 4), '0')}\n`,
      write: (data) => this.setAffinity(desc.irq, parseCpuMask(new TextDecoder().decode(data))),
    });
    this.procfs.createFile(`${dir}/smp_affinity_list`, 0o644, {
      show: () => `${cpuList([...desc.affinity])}\n`,
      write: (data) => this.setAffinity(desc.irq, parseCpuList(new TextDecoder().decode(data))),
    });
    this.procfs.createFile(`${dir}/effective_affinity_list`, 0o444, { show: () => `${desc.cpu}\n`, noWriteErrno: Errno.EACCES });
  }

  /** /proc/interrupts. */
  procInterrupts(): string {
    const cpuHdr = ' '.repeat(11) + [...Array(this.cpus).keys()].map((c) => `CPU${c}`.padEnd(11)).join('');
    const lines = [cpuHdr.trimEnd()];
    for (const d of [...this.descs.values()].sort((a, b) => a.irq - b.irq)) {
      if (d.actions.length === 0) continue;
      const counts = d.counts.map((c) => String(c).padStart(10) + ' ').join('');
      lines.push(`${String(d.irq).padStart(3)}: ${counts} ${d.chipName.padStart(8)} ${d.hwirq}-edge      ${d.name}`);
    }
    return lines.join('\n') + '\n';
  }
}

function parseCpuMask(text: string): Set<number> {
  const t = text.trim().replace(/,/g, '');
  if (!/^[0-9a-fA-F]+$/.test(t)) throw new KernelError(Errno.EINVAL, `bad cpumask ${text}`);
  const v = BigInt('0x' + t);
  const out = new Set<number>();
  for (let i = 0; i < 64; i++) if ((v >> BigInt(i)) & 1n) out.add(i);
  return out;
}

function parseCpuList(text: string): Set<number> {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new KernelError(Errno.EINVAL, `bad cpulist ${text}`);
    for (let c = Number(m[1]); c <= Number(m[2] ?? m[1]); c++) out.add(c);
  }
  return out;
}

function cpuList(cpus: number[]): string {
  const s = [...cpus].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
