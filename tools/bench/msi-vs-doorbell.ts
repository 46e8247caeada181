import { IrqReturn } from '../../core/irq/irqdesc';
import { msecs } from '../../core/time/units';
import { World } from '../../core/world';
import {
  NtbDev,
  NtbMsiDesc,
  ntbBus,
  ntbDbClear,
  ntbDbClearMask,
  ntbDbRead,
  ntbLinkEnable,
  ntbmMsiRequestIrq,
  ntbMsiInit,
  ntbMsiPeerTrigger,
  ntbMsiSetupMws,
  ntbPeerDbSet,
  ntbSetCtx,
} from '../../drivers/ntb';
import { switchtecTopology } from '../../drivers/switchtec/silicon/topology';
import { builtinPlugins } from '../../plugins';
import { Benchmark, Measurement, secondsSince } from './types';

const SIGNALS = 20_000;

interface Pair {
  world: World;
  sender: { run: <T>(fn: () => T | Promise<T>) => Promise<T>; ntb: NtbDev };
  received: () => number;
  signal: () => void;
}

/** Host0 signals host1, which counts what its handler saw: by MSI through the window, or by doorbell. */
async function pair(mode: 'msi' | 'doorbell'): Promise<Pair> {
  const world = await World.create(switchtecTopology(), builtinPlugins());
  const [a, b] = world.hosts;
  const ntbOf = (h: typeof a) => h.kernel.driverCore.devices(ntbBus(h.kernel)!)[0] as NtbDev;
  const [na, nb] = [ntbOf(a), ntbOf(b)];
  let count = 0;
  for (const [h, n] of [[a, na], [b, nb]] as const) {
    await h.run('setup', (k) => {
      if (mode === 'msi') ntbMsiInit(k, n);
      ntbLinkEnable(n);
    });
  }
  await world.runFor(msecs(10));
  let signal: () => void;
  if (mode === 'msi') {
    const desc: NtbMsiDesc = { addrOffset: 0, data: 0 };
    await b.run('msi', async () => {
      await ntbMsiSetupMws(nb);
      ntbmMsiRequestIrq(nb, () => (count++, IrqReturn.HANDLED), 'bench', nb, desc);
    });
    await a.run('msi', () => ntbMsiSetupMws(na));
    signal = () => ntbMsiPeerTrigger(na, 0, desc);
  } else {
    await b.run('db', () => {
      ntbSetCtx(nb, nb, {
        dbEvent: (n: NtbDev) => {
          const bits = ntbDbRead(n);
          ntbDbClear(n, bits);
          count++;
        },
      });
      ntbDbClearMask(nb, 1n);
    });
    signal = () => ntbPeerDbSet(na, 1n);
  }
  return { world, sender: { run: (fn) => a.run('signal', fn), ntb: na }, received: () => count, signal };
}

function bench(mode: 'msi' | 'doorbell'): Benchmark['round'] {
  return async ({ scale }): Promise<Measurement> => {
    const n = Math.max(1, Math.round(SIGNALS * scale));
    const p = await pair(mode);
    const before = p.received();
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await p.sender.run(p.signal);
    const seconds = secondsSince(start);
    const got = p.received() - before;
    if (got !== n) throw new Error(`${mode}: ${n} signals sent, handler ran ${got} times`);
    return { ops: n, seconds };
  };
}

const method = (what: string) =>
  `Boots switchtecTopology() (IOMMU and interrupt remapping on, DMA-alias quirk on), brings the link up, then ${what} ` +
  `${SIGNALS.toLocaleString('en-US')} times from host0, each in its own host.run (a syscall-like call that returns once ` +
  "what it set in motion has landed), and checks that host1's handler ran exactly once per signal. Timed: the signals.";

export const msiTrigger: Benchmark = {
  name: 'msi-trigger',
  title: 'MSI through the memory window: ntb_msi_peer_trigger → peer handler',
  unit: 'triggers/s',
  rounds: 3,
  method: method(
    'host1 sets up its MSI window (ntb_msi_setup_mws) and requests one irq; host0 calls ntb_msi_peer_trigger: an MMIO write ' +
      "into its outbound window, translated by the switch into host1's MSI range with a proxy requester ID, checked by host1's " +
      'interrupt remapping, delivered to the handler —',
  ),
  round: bench('msi'),
};

export const doorbellRing: Benchmark = {
  name: 'doorbell-ring',
  title: 'Doorbell on the same world: ntb_peer_db_set → peer db_event',
  unit: 'rings/s',
  rounds: 3,
  method: method(
    "host1 unmasks doorbell 0 and clears it in its db_event callback; host0 calls ntb_peer_db_set (the switch's odb → idb → " +
      "MSI-X doorbell vector → ntb_hw_switchtec's ISR → ntb_db_event) —",
  ),
  round: bench('doorbell'),
};
