/**
 * A minimal kernel networking layer: struct net_device, sk_buff, registration with sysfs, link
 * watch, and the transmit/receive entry points a network driver and a traffic generator need.
 * One NetCore per host (`Kernel.net`).
 */
export * from './etherdevice';
export * from './net-core';
export * from './netdevice';
export * from './skbuff';
