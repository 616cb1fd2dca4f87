/** Placement: regular nodes, AWS Fargate, AKS virtual nodes, burst; the provider limits checked at synth. */
export { Placement, FARGATE_PROFILE_LABEL, FARGATE_SELECTOR_LABEL, FARGATE_SIZE_ANNOTATION } from './placement';
export type {
  AwsFargateOptions,
  AzureVirtualNodeOptions,
  AzureVirtualNodeVersion,
  FargateProfileOptions,
  PlacedTemplate,
  PlacementMode,
  PlacementProvider,
  SchedulingFields,
} from './placement';
export { FARGATE_SIZES, FARGATE_OVERHEAD_MIB, fargateSizeFor, formatFargateSize, podDemand } from './fargate-sizes';
export type { FargateSize } from './fargate-sizes';
export {
  FargateProfile,
  fargateProfileManifest,
  fargateProfilePulumiArgs,
  fargateSelectorMatches,
} from './fargate-profile';
export type { FargateProfileProps, FargateProfileDefinition, FargateProfileSelector } from './fargate-profile';
export { PLACEMENT_RULES } from './rules';
export type { PlacementRule, PlacementFinding, PlacementTarget, RuleProvider } from './rules';
export { persistentStorageProblems } from './persistent-storage';
export { recordedWarnings, clearWarnings } from './warnings';
export type { SynthWarning } from './warnings';
export type { PodTemplateLike, WorkloadKind } from './pod-types';
export { placeComponent } from './component';
export type { ComponentPlacementOptions } from './component';
