// Tests run the bytes that ship: bundle the in-pod code once before any test file runs.
const { buildPodBundles } = require('../scripts/pod-bundles.cjs');

module.exports = async () => {
  await buildPodBundles();
};
