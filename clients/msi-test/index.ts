export { ntbMsiTestModule, MSI_TEST_NAME, MSI_TEST_VERSION } from './ntb-msi-test';
