import { Testing } from 'cdk8s';
import { buildExampleApp } from '../../examples/app';
const app = Testing.app();
const p = buildExampleApp(app);
const objs = Testing.synth(p);
for (const o of objs) {
  if (o.kind === 'ConfigMap') for (const k of Object.keys(o.data)) if (o.data[k].length > 300) o.data[k] = `<${o.data[k].length} bytes>`;
}
console.log(require('yaml').stringify(objs.filter((o: any) => !process.argv[2] || o.metadata.name === process.argv[2])));
