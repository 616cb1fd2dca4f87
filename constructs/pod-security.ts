/**
 * The Pod Security Standard `restricted` profile, as every kubefaas pod carries it (ARCHITECTURE §5):
 * one definition, so a function, the router, the queue, cron jobs and Prometheus cannot drift apart.
 */

/** Pod-level `securityContext` for an image running as the numeric `uid` (the kubelet needs a number). */
export function restrictedPodSecurity(uid: number): Record<string, unknown> {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    fsGroup: uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level `securityContext`: no privilege escalation, no capabilities, read-only root. */
export function restrictedContainerSecurity(): Record<string, unknown> {
  return {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
  };
}
