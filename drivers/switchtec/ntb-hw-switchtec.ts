import { KernelError } from '../../core/errno';
import { Kernel } from '../../core/kernel';
import { ModuleDecl } from '../../core/module/module';
import { param } from '../../core/module/params';
import { LogLevel } from '../../core/printk';
import { ClassInterface } from '../../core/base/class';
import { registerNtbDev, unregisterNtbDev } from '../ntb';
import { SwitchtecDev, SwitchtecSymbols } from './switchtec-dev';
import { SwitchtecMsg, SwitchtecNtb } from './switchtec-ntb';
import { PCI_CLASS_NT_EP } from './switchtec-regs';

const params = {
  max_mw_size: param.ulong(2 << 20, 0o644, 'Max memory window size reported to the upper layer'),
  use_lut_mws: param.bool(false, 0o644, 'Enable the use of the LUT based memory windows'),
};

interface NtbHwSwitchtecState {
  intf: ClassInterface<SwitchtecDev>;
}

/**
 * ntb_hw_switchtec: a class interface on the `switchtec` management driver's devices. For each
 * NT endpoint it brings up the partition pair (requester IDs, doorbells, messages, the shared
 * scratchpad window, interrupts) and registers an NTB device.
 */
export const ntbHwSwitchtecModule: ModuleDecl<Kernel, typeof params, NtbHwSwitchtecState> = {
  name: 'ntb_hw_switchtec',
  description: 'Microsemi Switchtec(tm) NTB Driver',
  version: '0.1',
  license: 'GPL',
  depends: ['switchtec', 'ntb'],
  params,
  async init(k, p) {
    const sndevParams = { maxMwSize: () => p.max_mw_size, useLutMws: () => p.use_lut_mws };
    const intf: ClassInterface<SwitchtecDev> = {
      addDev: (stdev) => switchtecNtbAdd(k, stdev, sndevParams),
      removeDev: (stdev) => switchtecNtbRemove(k, stdev),
    };
    await k.symbolsOf<SwitchtecSymbols>('switchtec').switchtecClass.interfaceRegister(intf);
    return { intf };
  },
  async exit(k, st) {
    await k.symbolsOf<SwitchtecSymbols>('switchtec').switchtecClass.interfaceUnregister(st.intf);
  },
};

async function switchtecNtbAdd(k: Kernel, stdev: SwitchtecDev, p: ConstructorParameters<typeof SwitchtecNtb>[2]): Promise<void> {
  // Management endpoints are switchtec devices too; only NT endpoints become NTB devices.
  if (stdev.pdev.classCode !== PCI_CLASS_NT_EP) return;
  const sndev = new SwitchtecNtb(k, stdev, p);
  try {
    sndev.initSndev();
    sndev.initMw();
    await sndev.initReqIdTable();
    sndev.initDb();
    sndev.initMsgs();
    await sndev.initSharedMw();
  } catch (e) {
    // class_interface add_dev failures do not propagate: the device simply has no NTB.
    if (!(e instanceof KernelError)) throw e;
    sndev.deinitSharedMw();
    return;
  }
  try {
    sndev.initDbMsgIrq();
    // Tell a surviving peer that anything it knew about us is stale.
    sndev.sendMsg(0, SwitchtecMsg.LINK_FORCE_DOWN);
    await registerNtbDev(k, sndev.ntb);
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    k.printk.devLog(LogLevel.ERR, stdev, `failed to register ntb device: -${e.errno}`);
    sndev.deinitDbMsgIrq();
    sndev.deinitSharedMw();
    return;
  }
  stdev.sndev = sndev;
  stdev.linkNotifier = () => sndev.checkLink(SwitchtecMsg.CHECK_LINK);
  k.printk.devLog(LogLevel.INFO, stdev, 'NTB device registered');
}

async function switchtecNtbRemove(k: Kernel, stdev: SwitchtecDev): Promise<void> {
  const sndev = stdev.sndev as SwitchtecNtb | undefined;
  if (!sndev) return;
  stdev.linkNotifier = undefined;
  stdev.sndev = undefined;
  await unregisterNtbDev(k, sndev.ntb);
  sndev.deinitDbMsgIrq();
  // Before the buffer goes: a queued link check would read it.
  await k.systemWq.cancelWorkSync(sndev.checkLinkWork);
  sndev.deinitSharedMw();
  k.printk.devLog(LogLevel.INFO, stdev, 'ntb device unregistered');
}
