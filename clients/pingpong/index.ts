export { ntbPingpongModule, PINGPONG_NAME, PINGPONG_VERSION } from './ntb-pingpong';
