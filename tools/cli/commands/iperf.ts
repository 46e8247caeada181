import { Command, CommandOptions, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PROFILE, runStream, STREAM_MODES, StreamMode, StreamResult, TIMING_PROFILES } from '../../iperf';
import { globalOptions, intArg, noOperands, printJson, printText } from '../common';

interface IperfOptions {
  mode: StreamMode | 'both';
  seconds: number;
  hz?: number;
  mwSize?: number;
  transportMtu?: number;
  frameSize?: number;
  profile: string;
  bidir?: boolean;
}

/** A positive, finite number (virtual seconds). */
function positiveNumber(value: string): number {
  const t = value.trim();
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of virtual seconds.');
  return n;
}

function profileArg(value: string): string {
  if (!(value in TIMING_PROFILES)) throw new InvalidArgumentError(`unknown timing profile (known: ${Object.keys(TIMING_PROFILES).join(', ')}).`);
  return value;
}

/**
 * `ntbsim iperf`: stream frames through ntb_netdev between the two hosts of a Switchtec world and
 * report goodput in virtual time, integrity counts, interrupts and the wall-clock cost.
 */
export function iperfCommand(parent: Command, opts: CommandOptions = {}): Command {
  const cmd = noOperands(parent.command('iperf', opts))
    .description('stream frames through ntb_netdev host0 → host1 on a 2-host Switchtec world (doorbells and/or MSI) and report Gb/s of virtual time')
    .addOption(new Option('--mode <mode>', 'peer notification: doorbell, msi (use_msi=1, use_lut_mws=1) or both').choices([...STREAM_MODES, 'both']).default('both'))
    .addOption(new Option('--seconds <s>', 'virtual seconds of streaming per mode').argParser(positiveNumber).default(1))
    .addOption(new Option('--hz <n>', 'the hosts\' CONFIG_HZ (default 250)').argParser(intArg(10, 10_000)))
    .addOption(new Option('--mw-size <bytes>', 'ntb_transport max_mw_size: cap on each memory window (default: the window, 2 MiB)').argParser(intArg(4096, 2 ** 32 - 1)))
    .addOption(new Option('--transport-mtu <bytes>', 'ntb_transport transport_mtu: ring slot size (default 65536)').argParser(intArg(64, 2 ** 31 - 1)))
    .addOption(new Option('--frame-size <bytes>', 'Ethernet frame size, header included (default: MTU + 14)').argParser(intArg(30, 2 ** 31 - 1)))
    .addOption(new Option('--profile <name>', 'hardware timing profile').argParser(profileArg).default(DEFAULT_PROFILE))
    .option('--bidir', 'also stream host1 → host0 at the same time');
  return cmd.action(async (o: IperfOptions, self: Command) => {
    const globals = globalOptions(self);
    const modes = o.mode === 'both' ? STREAM_MODES : [o.mode];
    const runs: StreamResult[] = [];
    for (const mode of modes) {
      runs.push(
        await runStream({
          mode,
          seconds: o.seconds,
          hz: o.hz,
          mwSize: o.mwSize,
          transportMtu: o.transportMtu,
          frameSize: o.frameSize,
          profile: o.profile,
          bidir: o.bidir,
          seed: globals.seed,
        }),
      );
    }
    if (globals.json) printJson({ runs });
    else printText(iperfTable(runs));
  });
}

const f2 = (n: number) => n.toFixed(2);

/** Pad columns: the first left-aligned, the rest right-aligned. */
export function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd());
}

export function iperfTable(runs: StreamResult[]): string[] {
  const r0 = runs[0];
  const head = `ntb_netdev stream on a 2-host Switchtec world (${r0.profile}), HZ=${r0.hz}, ${r0.frameSize}-byte frames, ` +
    `${r0.qpWindowBytes} bytes of window per QP (${r0.ringSlots} slots of ${r0.slotBytes}), ${r0.bidir ? 'host0 ⇄ host1' : 'host0 → host1'}, seed ${r0.seed}`;
  const rows = [['mode', 'dir', 'notify', 'Gb/s', 'frames', 'lost', 'dup', 'corrupt', 'irq/frame', 'rx reads/frame', 'tx reads/frame', 'queue stops', 'timer wakes', 'rx ring empty']];
  for (const r of runs) {
    for (const d of r.directions) {
      rows.push([r.mode, `${d.from}→${d.to}`, d.notify, f2(d.gbps), `${d.frames}`, `${d.lost}`, `${d.duplicated}`, `${d.corrupted}`, f2(d.interruptsPerFrame), f2(d.rxReadsPerFrame), f2(d.txReadsPerFrame), `${d.queueStops}`, `${d.timerWakes}`, `${d.rxRingEmpty}`]);
    }
  }
  const irqRows = [['mode', ...Object.keys(r0.interrupts).flatMap((h) => [`${h} NTB irqs`, `${h} doorbells`]), 'virtual s', 'wall s', 'virtual s / wall s']];
  for (const r of runs) {
    irqRows.push([r.mode, ...Object.keys(r.interrupts).flatMap((h) => [`${r.interrupts[h]}`, `${r.doorbells[h]}`]), `${r.virtualSeconds}`, r.wallSeconds.toFixed(2), r.virtualPerWall.toFixed(3)]);
  }
  return [head, '', ...table(rows), '', ...table(irqRows)];
}
