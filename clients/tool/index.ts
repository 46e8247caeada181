export { ntbToolModule, TOOL_NAME, TOOL_VERSION } from './ntb-tool';
export { ksscanf } from './sscanf';
