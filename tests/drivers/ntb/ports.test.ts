import { expect } from 'chai';
import { Errno, KernelError } from '../../../core/errno';
import { PciDev } from '../../../core/pci/pci-dev';
import {
  NtbDev,
  NtbTopo,
  ntbLogicalPortNumber,
  ntbPeerHighestMwIdx,
  ntbPeerLogicalPortNumber,
  ntbPeerResourceIdx,
} from '../../../drivers/ntb';
import { FakeNtbHw } from './fake-ntb-hw';

/*
 * Expected values derived by hand from the definitions (spec ntb-api.md §6), with
 * P = local port, Q(i) = peer ports (ascending), C = peer count, MWC = mw_count:
 *   L     = first i with P <= Q(i), else C                (ntbLogicalPortNumber)
 *   PL(i) = Q(i) < P ? i : i + 1                          (ntbPeerLogicalPortNumber)
 *   R(i)  = PL(i) < L ? L - 1 : L ; EINVAL when i >= C    (ntbPeerResourceIdx)
 *   H(i)  = MWC - R(i) - 1                                (ntbPeerHighestMwIdx)
 *
 * Default ports (no port ops; mainline defaults):
 *  B2B_USD / PRI: P=0, Q=[1]. L: 0<=1 → 0. PL: 1<0 no → 1. R: 1<0 no → L = 0. MWC=2 → H = 1.
 *  B2B_DSD / SEC: P=1, Q=[0]. L: 1<=0 no → C = 1. PL: 0<1 → 0. R: 0<1 → L-1 = 0. H = 1.
 *  SWITCH (legacy): P=0, Q=[0]. L: 0<=0 → 0. PL: 0<0 no → 1. R: 1<0 no → 0. H = 1.
 *  B2B_USD with MWC=0: R = 0, H = 0-0-1 = -1 (Linux passes the -1 on).
 * Hardware port ops:
 *  5 ports, local 2: P=2, Q=[0,1,3,4]. L: 2<=0 no, 2<=1 no, 2<=3 → 2.
 *    PL = [0<2→0, 1<2→1, 3<2 no→3, 4<2 no→4]. R = [0<2→1, 1<2→1, 3<2 no→2, 4<2 no→2].
 *    MWC=4 → H = [2,2,1,1].
 *  5 ports, local 0: Q=[1,2,3,4]. L=0. PL=[1,2,3,4]. None < 0 → R=[0,0,0,0]. H=[3,3,3,3].
 *  5 ports, local 4: Q=[0,1,2,3]. L: no Q >= 4 → C=4. PL=[0,1,2,3], all < 4 → R=[3,3,3,3]. H=[0,0,0,0].
 *  sparse {0,2,4,8}, local 4: Q=[0,2,8]. L: 4<=8 at i=2 → 2. PL=[0,1,8<4 no→3].
 *    R=[0<2→1, 1<2→1, 3<2 no→2]. MWC=3 → H=[1,1,0].
 *  3 ports {1,5,9}, local 5 (middle): Q=[1,9]. L: 5<=9 at i=1 → 1. PL=[1<5→0, 9<5 no→2].
 *    R=[0<1→0, 2<1 no→1]. MWC=2 → H=[1,0].
 *    Rank check: port 1's peers are {5,9} → we are its pidx 0 = R(0); port 9's peers {1,5} → pidx 1 = R(1).
 *  3 ports {1,5,9}, local 1: Q=[5,9]. L=0. PL=[1,2]. R=[0,0]. MWC=3 → H=[2,2].
 *  3 ports {1,5,9}, local 9: Q=[1,5]. L: none → 2. PL=[0,1]. R=[1,1]. MWC=2 → H=[0,0].
 */
interface Layout {
  what: string;
  topo: NtbTopo;
  ports?: { port: number; peers: number[] };
  mws: number;
  L: number;
  PL: number[];
  R: number[];
  H: number[];
}

const layouts: Layout[] = [
  { what: '2 ports, B2B upstream (default ports)', topo: NtbTopo.B2B_USD, mws: 2, L: 0, PL: [1], R: [0], H: [1] },
  { what: '2 ports, primary (default ports)', topo: NtbTopo.PRI, mws: 2, L: 0, PL: [1], R: [0], H: [1] },
  { what: '2 ports, B2B downstream (default ports)', topo: NtbTopo.B2B_DSD, mws: 2, L: 1, PL: [0], R: [0], H: [1] },
  { what: '2 ports, secondary (default ports)', topo: NtbTopo.SEC, mws: 2, L: 1, PL: [0], R: [0], H: [1] },
  { what: '2 ports, legacy switch with both ports 0', topo: NtbTopo.SWITCH, mws: 2, L: 0, PL: [1], R: [0], H: [1] },
  { what: '2 ports with no inbound windows', topo: NtbTopo.B2B_USD, mws: 0, L: 0, PL: [1], R: [0], H: [-1] },
  { what: '5 ports, local port 2 in the middle', topo: NtbTopo.SWITCH, ports: { port: 2, peers: [0, 1, 3, 4] }, mws: 4, L: 2, PL: [0, 1, 3, 4], R: [1, 1, 2, 2], H: [2, 2, 1, 1] },
  { what: '5 ports, local port lowest', topo: NtbTopo.SWITCH, ports: { port: 0, peers: [1, 2, 3, 4] }, mws: 4, L: 0, PL: [1, 2, 3, 4], R: [0, 0, 0, 0], H: [3, 3, 3, 3] },
  { what: '5 ports, local port highest', topo: NtbTopo.SWITCH, ports: { port: 4, peers: [0, 1, 2, 3] }, mws: 4, L: 4, PL: [0, 1, 2, 3], R: [3, 3, 3, 3], H: [0, 0, 0, 0] },
  { what: 'sparse ports {0,2,4,8}, local 4', topo: NtbTopo.SWITCH, ports: { port: 4, peers: [0, 2, 8] }, mws: 3, L: 2, PL: [0, 1, 3], R: [1, 1, 2], H: [1, 1, 0] },
  { what: '3 ports {1,5,9}, local 5 in the middle', topo: NtbTopo.SWITCH, ports: { port: 5, peers: [1, 9] }, mws: 2, L: 1, PL: [0, 2], R: [0, 1], H: [1, 0] },
  { what: '3 ports {1,5,9}, local 1', topo: NtbTopo.SWITCH, ports: { port: 1, peers: [5, 9] }, mws: 3, L: 0, PL: [1, 2], R: [0, 0], H: [2, 2] },
  { what: '3 ports {1,5,9}, local 9', topo: NtbTopo.SWITCH, ports: { port: 9, peers: [1, 5] }, mws: 2, L: 2, PL: [0, 1], R: [1, 1], H: [0, 0] },
];

const stubPdev = { name: '0000:03:00.1' } as PciDev;

function makeNtb(topo: NtbTopo, ports: Layout['ports'], mws: number): NtbDev {
  return new NtbDev(stubPdev, new FakeNtbHw({ ports, mws }).ops(), topo);
}

function errnoOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e.errno;
    throw e;
  }
  return undefined;
}

describe('drivers/ntb logical ports and resource indices', () => {
  for (const l of layouts) {
    it(`computes logical port, peer logical ports, resource and highest-MW indices for ${l.what}`, () => {
      const ntb = makeNtb(l.topo, l.ports, l.mws);
      expect(ntbLogicalPortNumber(ntb), 'logical port').to.equal(l.L);
      const n = l.PL.length;
      const idx = [...Array(n).keys()];
      expect(idx.map((i) => ntbPeerLogicalPortNumber(ntb, i)), 'peer logical ports').to.deep.equal(l.PL);
      expect(idx.map((i) => ntbPeerResourceIdx(ntb, i)), 'resource indices').to.deep.equal(l.R);
      expect(idx.map((i) => ntbPeerHighestMwIdx(ntb, i)), 'highest MW indices').to.deep.equal(l.H);
      // one past the last peer is out of range
      expect(errnoOf(() => ntbPeerResourceIdx(ntb, n))).to.equal(Errno.EINVAL);
      expect(errnoOf(() => ntbPeerHighestMwIdx(ntb, n))).to.equal(Errno.EINVAL);
    });
  }

  it('reproduces the 5-port reference matrix of include/linux/ntb.h', () => {
    // rows: pidx 0..3; columns: local port 0..4
    const matrix = [
      [0, 0, 1, 2, 3],
      [0, 1, 1, 2, 3],
      [0, 1, 2, 2, 3],
      [0, 1, 2, 3, 3],
    ];
    for (let local = 0; local < 5; local++) {
      const peers = [0, 1, 2, 3, 4].filter((p) => p !== local);
      const ntb = makeNtb(NtbTopo.SWITCH, { port: local, peers }, 4);
      for (let pidx = 0; pidx < 4; pidx++) {
        expect(ntbPeerResourceIdx(ntb, pidx), `local ${local} pidx ${pidx}`).to.equal(matrix[pidx][local]);
      }
    }
  });

  it('gives every host a resource slot equal to its index in each peer\'s own peer list', () => {
    const all = [0, 3, 4, 7, 12];
    for (const local of all) {
      const peers = all.filter((p) => p !== local);
      const ntb = makeNtb(NtbTopo.SWITCH, { port: local, peers }, 4);
      peers.forEach((peer, pidx) => {
        const peersOfPeer = all.filter((p) => p !== peer);
        expect(ntbPeerResourceIdx(ntb, pidx), `local ${local} → peer ${peer}`).to.equal(peersOfPeer.indexOf(local));
      });
    }
  });
});
