import { HardwareFactory, NtbsimPlugin } from '../../core/plugin';
import { eduModule } from './edu';
import { EduDevice } from './silicon/edu';

/** Puts one edu device behind a new root port of every host (or of the hosts named in `hosts`). */
const eduHardware: HardwareFactory = ({ sched, hosts, options }) => {
  const names = (options.hosts as string[] | undefined) ?? hosts.map((h) => h.name);
  for (const host of hosts.filter((h) => names.includes(h.name))) {
    const dev = new EduDevice(sched, {
      msixVectors: (options.msixVectors as number | undefined) ?? 4,
      dmaBytesPerSec: (options.dmaBytesPerSec as number | undefined) ?? 1e9,
    });
    host.addRootPort().attach(0, dev);
  }
};

/** The simple test device of issue 2: silicon + driver, registered like any backend. */
export const testdevPlugin: NtbsimPlugin = {
  name: 'testdev',
  modules: [eduModule],
  hardware: { edu: eduHardware },
};
