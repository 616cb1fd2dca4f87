import { CronTrigger, NodeFunction, Size } from '../../constructs';
import { errorOf, expectValid, find, INLINE, newPlatform, synth } from './helpers';

type Pod = { spec: { volumes: { name: string; emptyDir?: { sizeLimit?: string } }[] } };

function tmpOf(pod: Pod): string | undefined {
  return pod.spec.volumes.find((v) => v.name === 'tmp')?.emptyDir?.sizeLimit;
}

describe('/tmp size limits', () => {
  test('a function gets 512Mi by default, its own tmpSize, or the platform default; router and cron 64Mi', async () => {
    const platform = newPlatform({ functionDefaults: { tmpSize: Size.mebibytes(256) } });
    new NodeFunction(platform, 'plain', { code: INLINE });
    new NodeFunction(platform, 'big', { code: INLINE, tmpSize: Size.gibibytes(2) });
    const ticker = new NodeFunction(platform, 'ticker', { code: INLINE });
    ticker.addTrigger(new CronTrigger({ schedule: '@hourly' }));
    const objects = synth(platform);
    expect(tmpOf(find(objects, 'Deployment', 'plain').spec.template)).toBe('256Mi');
    expect(tmpOf(find(objects, 'Deployment', 'big').spec.template)).toBe('2Gi');
    expect(tmpOf(find(objects, 'Deployment', 'kubefaas-router').spec.template)).toBe('64Mi');
    const cron = objects.find((o) => o.kind === 'CronJob')!;
    expect(tmpOf(cron.spec.jobTemplate.spec.template)).toBe('64Mi');
    await expectValid(objects);

    const fresh = newPlatform();
    new NodeFunction(fresh, 'lambda-like', { code: INLINE });
    expect(tmpOf(find(synth(fresh), 'Deployment', 'lambda-like').spec.template)).toBe('512Mi');
  });

  test('a tmpSize out of bounds names the function and the prop', () => {
    const platform = newPlatform();
    const err = errorOf(() => new NodeFunction(platform, 'tiny', { code: INLINE, tmpSize: Size.kibibytes(4) }));
    expect(err.message).toContain('tiny');
    expect(err.message).toContain('tmpSize');
    expect(errorOf(() => newPlatform({ functionDefaults: { tmpSize: Size.tebibytes(1) } })).message).toContain(
      'functionDefaults.tmpSize',
    );
  });
});
