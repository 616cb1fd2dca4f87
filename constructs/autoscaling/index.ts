/** What scales the functions: HPAs (default) or KEDA with the platform's scaler (issue 10, docs/scaling.md). */
export { Autoscaling, KedaDefaults, kedaPods } from './autoscaling';
export type { AutoscalingMode, KedaOptions, ResolvedKeda, ScalerOptions, ScalerResources } from './autoscaling';
export { KedaScaler } from './scaler';
export { RouterScalingAccess } from './router-access';
export { functionScaledObject } from './scaled-object';
export type { JetStreamConsumer } from './scaled-object';
