import { ApiObject, App, Chart, DependencyGraph } from 'cdk8s';

/** One Kubernetes object as `cdk8s synth` writes it (plain JSON, every token resolved). */
export interface KubeManifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: { readonly [key: string]: string };
    readonly annotations?: { readonly [key: string]: string };
    readonly [key: string]: unknown;
  };
  readonly [field: string]: unknown;
}

/** A synthesized object plus the objects it was told to come after in the cdk8s app. */
export interface SynthesizedObject {
  readonly manifest: KubeManifest;
  /** Indexes (into the same list) of objects this one depends on through cdk8s `addDependency`. */
  readonly declaredDependencies: readonly number[];
}

/**
 * Synthesizes a cdk8s app in memory into exactly the objects `cdk8s synth` writes to `dist/`.
 *
 * `App.synth()` validates the app and then writes `chart.toJson()` of every chart (in the app's
 * topological chart order) to YAML; `chart.toJson()` itself resolves dependencies and runs every
 * construct's validation. We call the same `toJson()` so the objects (and validation errors) are
 * identical, and skip only the YAML serialization, which is most of the cost of a synth.
 */
export function synthesizeApp(app: App): SynthesizedObject[] {
  const manifests: KubeManifest[] = [];
  const indexOf = new Map<ApiObject, number>();

  for (const chart of app.charts) {
    const json = chart.toJson() as KubeManifest[];
    // toJson() renders the chart's ApiObjects in this topological order; walking it again maps each
    // JSON object back to its construct, so dependencies declared in cdk8s carry over to Pulumi.
    const apiObjects = chartApiObjects(chart);
    if (apiObjects.length !== json.length) {
      throw new Error(`chart ${chart.node.path}: rendered ${json.length} objects but holds ${apiObjects.length}`);
    }
    apiObjects.forEach((apiObject, i) => {
      const manifest = json[i];
      if (manifest.kind !== apiObject.kind || manifest.metadata?.name !== apiObject.name) {
        throw new Error(`chart ${chart.node.path}: object order changed between two renders (${apiObject.node.path})`);
      }
      indexOf.set(apiObject, manifests.length);
      manifests.push(manifest);
    });
  }

  const result: SynthesizedObject[] = [];
  for (const [apiObject, index] of indexOf) {
    const declared = new Set<number>();
    // toJson() already expanded dependencies on other constructs into ApiObject-to-ApiObject ones.
    for (const dependency of apiObject.node.dependencies) {
      const targetIndex = ApiObject.isApiObject(dependency) ? indexOf.get(dependency) : undefined;
      if (targetIndex !== undefined && targetIndex !== index) declared.add(targetIndex);
    }
    result[index] = { manifest: manifests[index], declaredDependencies: [...declared] };
  }
  return result;
}

/** The ApiObjects a chart renders, in the order `chart.toJson()` renders them. */
function chartApiObjects(chart: Chart): ApiObject[] {
  return new DependencyGraph(chart.node)
    .topology()
    .filter((c): c is ApiObject => ApiObject.isApiObject(c) && Chart.of(c) === chart);
}
