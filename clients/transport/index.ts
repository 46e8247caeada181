export { ntbTransportModule } from './module';
export {
  ntbTransportCreateQueue,
  ntbTransportFreeQueue,
  ntbTransportLinkDown,
  ntbTransportLinkQuery,
  ntbTransportLinkUp,
  ntbTransportMaxSize,
  ntbTransportQpNum,
  ntbTransportRegisterClient,
  ntbTransportRegisterClientDev,
  ntbTransportRxEnqueue,
  ntbTransportRxRemove,
  ntbTransportTxEnqueue,
  ntbTransportTxFreeEntry,
  ntbTransportUnregisterClient,
  ntbTransportUnregisterClientDev,
} from './api';
export type { NtbQueueHandlers, NtbTransportClient, TransportParams } from './defs';
export { NTB_TRANSPORT_DESC, NTB_TRANSPORT_NAME, NTB_TRANSPORT_VERSION } from './defs';
export { NtbTransportQp } from './qp';
export { hashedPointer } from './util';
