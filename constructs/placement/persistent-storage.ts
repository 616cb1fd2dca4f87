/**
 * The rule platform components with state (the queue's JetStream store) apply before claiming a
 * persistent volume: refuse providers that cannot mount one. Kept separate from pod checks so a
 * component can ask before it renders its StatefulSet.
 */
import { Placement } from './placement';
import { PlacementFinding, PLACEMENT_RULES } from './rules';

/**
 * Errors for a component that claims a dynamically provisioned persistent volume on `placement`
 * (empty when the provider can mount it).
 */
export function persistentStorageProblems(
  placement: Placement,
  subject: string,
  storageClassName?: string,
): PlacementFinding[] {
  const rules = PLACEMENT_RULES.filter(
    (rule) => rule.id.endsWith('/persistent-storage') && placement.ruleProviders.includes(rule.provider),
  );
  const target = {
    subject,
    workloadKind: 'StatefulSet' as const,
    namespace: '',
    template: { spec: { containers: [] } },
    persistentStorage: storageClassName ? { storageClassName } : {},
  };
  return rules.flatMap((rule) =>
    rule.check(target).map((message) => ({
      rule: rule.id,
      severity: rule.severity,
      message: `${subject}: ${message} [${placement.description}, rule ${rule.id}]`,
    })),
  );
}
