/**
 * The example's vendored dependency (examples/wheels/kfexample_slug-1.0-py3-none-any.whl) is exactly
 * what scripts/build_wheel.py makes from its source (examples/wheels/src), and requirements.txt pins
 * its hash: editing the source without `npm run example:wheels` (and the new hash) fails here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { testPython } from '../runtime-python/process';
import { BUILD_WHEEL, sha256File } from '../support/wheels';

const examples = resolve(__dirname, '..', '..', 'examples');
const WHEEL = join(examples, 'wheels', 'kfexample_slug-1.0-py3-none-any.whl');

it('is rebuilt byte for byte from its source, and requirements.txt pins its hash', () => {
  const out = mkdtempSync(join(tmpdir(), 'kubefaas-example-wheel-'));
  try {
    const built = spawnSync(
      testPython(),
      ['-I', BUILD_WHEEL, 'kfexample_slug', '1.0', out, join(examples, 'wheels', 'src')],
      { encoding: 'utf8' },
    );
    expect(built.status).toBe(0);
    expect(readFileSync(built.stdout.trim()).equals(readFileSync(WHEEL))).toBe(true);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  const requirements = readFileSync(join(examples, 'slug', 'requirements.txt'), 'utf8');
  expect(requirements).toContain(`kfexample-slug==1.0 --hash=sha256:${sha256File(WHEEL)}`);
});
