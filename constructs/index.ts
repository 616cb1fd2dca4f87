// The public API of kubefaas (package main): `import { Platform, NodeFunction, … } from 'kubefaas'`.
export { Duration, Size } from 'cdk8s';
export { Cpu } from 'cdk8s-plus-27';
export * from './platform';
export * from './function-base';
export * from './node-function';
export * from './container-function';
// --- PythonFunction (issue 17) ---
export * from './python-function';
export { PythonRuntime } from './python-runtime';
// --- end PythonFunction ---
export * from './code';
export * from './env';
export * from './triggers';
export * from './triggers/queue-trigger';
export * from './triggers/cron-trigger';
export * from './queue';
export * from './exposure';
export * from './scaling';
export * from './placement';
export * from './metrics';
export { ValidationError } from './errors';
export type { FunctionEvent, FunctionContext, FunctionLogger, Handler, HandlerResult } from '../src/contract';
export { ROUTER_NAME } from '../src/contract';
export type { HttpMethod, RouteTable, Route, RouteTarget } from '../src/contract';
export * from './router-policies';
