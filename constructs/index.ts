/**
 * The public API of kubefaas (package main): `import { Platform, NodeFunction, … } from 'kubefaas'`.
 *
 * Every name is listed on purpose: what is not here is internal and may change in any release.
 * test/packaging/public-api.json records this list as the packed package exports it, and a test
 * fails when it changes by accident (see docs/packaging.md for how to change it on purpose).
 */

// Typed values of the props.
export { Duration, Size } from 'cdk8s';
export { Cpu } from 'cdk8s-plus-27';

// The platform.
export { Platform, ROUTES_CONFIGMAP, RUNTIME_CONFIGMAP } from './platform';
export { ROUTER_ADMIN_SERVICE, ROUTER_NAME, ROUTER_PEERS_SERVICE, SCALER_NAME } from '../src/contract';
export type {
  FunctionDefaults,
  HttpRoute,
  NamespaceOptions,
  PlatformProps,
  ReplicaRange,
  ResourceOptions,
  RouterObjects,
  RouterOptions,
} from './platform';
export { RouterExposure } from './exposure';
export type {
  GatewayApiExposureOptions,
  IngressController,
  IngressExposureOptions,
  LoadBalancerExposureOptions,
} from './exposure';
export { RouterTls } from './router-tls';
export type { CertManagerTlsOptions } from './router-tls';
export type { FunctionScaling, ScalingOptions } from './scaling';
export { Autoscaling } from './autoscaling';
export type { AutoscalingMode, KedaOptions, KedaScaler, ScalerOptions, ScalerResources } from './autoscaling';
export { ValidationError } from './errors';

// Functions.
export { FunctionBase } from './function-base';
export type { FunctionOptions, ITrigger } from './function-base';
export type { InvocationOptions } from './invocation';
export { NodeFunction } from './node-function';
export type { NodeFunctionProps } from './node-function';
export { PythonFunction } from './python-function';
export type { PythonFunctionProps } from './python-function';
export { PythonRuntime } from './python-runtime';
export { PythonDependencies } from './python-dependencies';
export type { InstallAtStartOptions } from './python-dependencies';
export { ContainerFunction } from './container-function';
export type { ContainerFunctionProps, HealthCheckOptions, LocalRunOptions } from './container-function';
export { Code, CONFIGMAP_DATA_LIMIT, MAX_BUNDLE_BYTES } from './code';
export type { AssetCodeOptions } from './code';
export { EnvValue } from './env';
export type { EnvInput, KeyReferenceOptions } from './env';
export { FunctionServiceAccount } from './service-account';
export type {
  AzureWorkloadIdentityOptions,
  CreateServiceAccountOptions,
  ServiceAccountTokenOptions,
} from './service-account';

// Triggers and the queue.
export { CronTrigger, HttpTrigger, QueueTrigger } from './triggers';
export type { ConcurrencyPolicy, CronTriggerProps, HttpTriggerProps, QueueTriggerProps } from './triggers';
export { Topic } from './topic';
export type { TopicProps } from './topic';
export { Queue } from './queue';
export type { NatsQueueAuth, NatsQueueOptions, NatsQueueTls, QueueBinding, QueueResources } from './queue';

// Router policies.
export { CallbackPolicy, RateLimit, RouterAuth } from './router-policies';
export type {
  BasicAuthProps,
  CallbackAllowOptions,
  CorsOptions,
  JwtAuthProps,
  SecretAuthProps,
} from './router-policies';

// Network isolation.
export { Egress, NetworkPeer, NetworkPolicies, NetworkPort } from './network';
export type {
  CidrEgressOptions,
  EgressPortOptions,
  EgressTargetFunction,
  NamespaceEgressOptions,
  NamespacePeerOptions,
  NetworkPolicyOptions,
} from './network';

// Placement.
export { FargateProfile, fargateProfilePulumiArgs, Placement } from './placement';
export type {
  AwsFargateOptions,
  AzureVirtualNodeOptions,
  AzureVirtualNodeVersion,
  FargateProfileDefinition,
  FargateProfileOptions,
  FargateProfileProps,
  FargateProfileSelector,
  PlacementMode,
  PlacementProvider,
} from './placement';

// Monitoring.
export { Metrics } from './metrics';
export type {
  AlertmanagerOptions,
  AlertRuleOptions,
  ComponentResources,
  DeadLetterAlert,
  ErrorRatioAlert,
  FunctionAlertOptions,
  LatencyNearTimeoutAlert,
  MetricsMode,
  NoReadyReplicaAlert,
  OperatorMetricsOptions,
  PrometheusMetricsOptions,
  QueueLagAlert,
  ReceiverType,
  Severity,
} from './metrics';

// Handler and route-table types (the contract with the code running in the pods).
export type { AuthInfo, FunctionContext, FunctionEvent, FunctionLogger, Handler, HandlerResult } from '../src/contract';
export type { HttpMethod, PublicInvocation, Route, RouteScaling, RouteTable, RouteTarget } from '../src/contract';
// Typed references (made by `kubefaas/refs`; the constructs take them in QueueTrigger, publishes, invokes).
export type { CronTick, FunctionRef, InvokeAsyncOptions, InvokeOptions, TopicRef } from '../src/contract';

// The platform graph (`platform.graph()`, written at synth, `kubefaas graph`).
export type {
  AsyncNode,
  CronNode,
  FunctionNode,
  GraphEdge,
  GraphEdgeKind,
  GraphFile,
  GraphNode,
  PlatformGraph,
  RouteNode,
  TopicNode,
} from '../src/contract';
