export {
  ntbNetdevModule,
  NtbNetdev,
  NtbNetdevState,
  NtbNetdevTunables,
  NTB_NETDEV_DEFAULT_TUNABLES,
  NTB_NETDEV_NAME,
  NTB_NETDEV_VERSION,
  NTB_RXQ_SIZE,
} from './ntb-netdev';
