/** The traffic generator over ntb_netdev (`ntbsim iperf`) and the main job (`npm start`). */
export * from './chart';
export * from './main-job';
export * from './payload';
export * from './stream';
