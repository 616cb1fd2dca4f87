/**
 * Who may import what (docs/architecture.md, "The one rule"). Run by `npm run lint:deps`, part of
 * `npm test`.
 *
 *   constructs/   synth time: may import src/contract/ and nothing else under src/
 *   src/          run time (pods, local runner, CLI): never imports constructs/ or stacks/
 *   src/contract/ the bridge: imports nothing outside itself, not even npm packages or node built-ins
 *   src/refs/     `kubefaas/refs`, bundled into handlers: imports the contract only
 *   stacks/       Pulumi: may import constructs/ and src/contract/
 *   pod programs  (src/runtime, src/router, src/cron, src/queue) never import the dev tools (src/local, src/cli)
 *   and no import cycles anywhere, type-only imports included.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Import cycles (type-only ones too) make initialization order matter and the layers meaningless; move the shared part into its own module or pass an interface.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'constructs-use-only-the-contract',
      severity: 'error',
      comment:
        'Synth-time code reaches run-time code only through src/contract/. Put shared names there; synth-only helpers belong under constructs/.',
      from: { path: '^constructs/' },
      to: { path: '^src/', pathNot: '^src/contract/' },
    },
    {
      name: 'runtime-is-not-synth-time',
      severity: 'error',
      comment:
        'Code under src/ runs in pods or on the developer machine without the construct library; share through src/contract/.',
      from: { path: '^src/' },
      to: { path: '^(constructs|stacks)/' },
    },
    {
      name: 'contract-is-self-contained',
      severity: 'error',
      comment:
        'src/contract/ is imported by both sides and bundled into every pod: no npm packages, no node built-ins, nothing else from the repository.',
      from: { path: '^src/contract/' },
      to: { pathNot: '^src/contract/' },
    },
    {
      name: 'refs-are-bundled-into-handlers',
      severity: 'error',
      comment:
        'src/refs/ (`kubefaas/refs`) is imported by handler code and bundled into every function that uses it: it may use the contract and nothing else.',
      from: { path: '^src/refs/' },
      to: { pathNot: '^src/(refs|contract)/' },
    },
    {
      name: 'stacks-use-constructs-and-the-contract',
      severity: 'error',
      comment: 'The Pulumi adapter builds on the construct library and the contract, not on run-time internals.',
      from: { path: '^stacks/' },
      to: { path: '^src/', pathNot: '^src/contract/' },
    },
    {
      name: 'pod-programs-without-dev-tools',
      severity: 'error',
      comment:
        'The in-pod programs (runtime, router, cron sender, queue client, scaler) are bundled into ConfigMaps; the local runner and CLI must not end up in them.',
      from: { path: '^src/(runtime|router|cron|queue|scaler|shared)/' },
      to: { path: '^src/(local|cli)/' },
    },
    {
      name: 'no-test-or-example-code',
      severity: 'error',
      comment:
        'Shipped code does not import tests, examples or scripts (other than the pod bundle definitions). stacks/example/ is the example Pulumi program, not shipped.',
      from: { path: '^(constructs|src|stacks)/', pathNot: '^stacks/example/' },
      to: { path: '^(test|examples|scripts)/', pathNot: '^scripts/pod-bundles\\.cjs$' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve is a typo or a missing dependency.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Count `import type` too: a type-only cycle is still a cycle between the layers.
    tsPreCompilationDeps: true,
    // No `tsConfig` on purpose: tsconfig.json's `paths` (for the `kubefaas` alias used by examples
    // and tests) would make the resolver read the npm package `constructs` as our constructs/ folder.
    // Every import in constructs/, src/ and stacks/ is relative or an npm package, which resolves without it.
    enhancedResolveOptions: {
      extensions: ['.ts', '.js', '.cjs', '.mjs', '.json', '.d.ts'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
