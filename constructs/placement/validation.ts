/**
 * Hooks a placement's checks into synthesis: errors become `node.addValidation` failures (cdk8s
 * reports them with the construct path), warnings go through `warn` and never fail synthesis.
 */
import { IConstruct } from 'constructs';
import { Placement } from './placement';
import { PlacementTarget } from './rules';
import { warn } from './warnings';

/**
 * Adds a validation to `scope` that checks the target produced by `target()` (called at synth, after
 * every `addXxx` call) against `placement()`.
 */
export function addPlacementValidation(
  scope: IConstruct,
  placement: () => Placement,
  target: () => PlacementTarget,
): void {
  scope.node.addValidation({
    validate: () => {
      const findings = placement().check(target());
      for (const finding of findings.filter((f) => f.severity === 'warning'))
        warn(scope, finding.rule, finding.message);
      return findings.filter((f) => f.severity === 'error').map((f) => f.message);
    },
  });
}
