/**
 * ntbsim's dependency directions, checked by tests/tools/architecture.test.ts.
 *
 * core/ is the mini kernel and knows no backend; drivers/ (kernel drivers and their silicon/
 * hardware models) sit on core; clients/ (client modules) on drivers' kernel APIs; tools/ (CLI,
 * benchmarks) on everything. A silicon/ folder is hardware: it may use core's hardware models and
 * other silicon, never a driver. The one file a model and its drivers share is the register
 * "datasheet" (`*-regs.ts`, the include/linux/<hw>.h of a backend): constants only, no code of
 * either side. Clients talk to hardware only through drivers.
 *
 * The test cruises the compiled CommonJS under dist/ (dependency-cruiser 17 cannot parse
 * TypeScript 7 sources), so every path pattern accepts an optional "dist/" prefix. Type-only
 * imports are erased by the compiler and are not checked, as with dependency-cruiser's default
 * `tsPreCompilationDeps: false`.
 */
const ROOT = '^(dist/)?';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules must not depend on themselves through a cycle.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-knows-no-backend',
      comment: 'core/ is the mini kernel: it must not import drivers/, clients/, tools/ or the package entry point.',
      severity: 'error',
      from: { path: `${ROOT}core/` },
      to: { path: [`${ROOT}(drivers|clients|tools)/`, `${ROOT}index\\.(js|ts)$`] },
    },
    {
      name: 'drivers-below-clients-and-tools',
      comment: 'drivers/ must not import clients/ or tools/.',
      severity: 'error',
      from: { path: `${ROOT}drivers/` },
      to: { path: `${ROOT}(clients|tools)/` },
    },
    {
      name: 'clients-below-tools',
      comment: 'clients/ must not import tools/.',
      severity: 'error',
      from: { path: `${ROOT}clients/` },
      to: { path: `${ROOT}tools/` },
    },
    {
      name: 'silicon-is-hardware',
      comment: 'A silicon/ folder models hardware: it must not import a driver (drivers/ outside silicon/ folders and register datasheets), clients/ or tools/.',
      severity: 'error',
      from: { path: '(^|/)silicon/' },
      to: { path: `${ROOT}(drivers|clients|tools)/`, pathNot: '(^|/)silicon/|^(dist/)?drivers/[^/]+/[^/]+-regs\\.(js|ts)$' },
    },
    {
      name: 'clients-use-no-silicon',
      comment: 'clients/ reach hardware only through drivers: they must not import a silicon/ folder.',
      severity: 'error',
      from: { path: `${ROOT}clients/` },
      to: { path: '(^|/)silicon/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    moduleSystems: ['cjs', 'es6'],
  },
};
