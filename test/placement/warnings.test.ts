import { Testing } from 'cdk8s';
import { Construct } from 'constructs';
import { addPlacementValidation } from '../../constructs/placement/validation';
import { Placement } from '../../constructs/placement/placement';
import { clearWarnings, recordedWarnings, warn, WARNING_METADATA_TYPE } from '../../constructs/placement/warnings';
import { functionPod, target } from './fixtures';

describe('synth warnings', () => {
  let stderr: jest.SpyInstance;
  beforeEach(() => {
    clearWarnings();
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => stderr.mockRestore());

  it('records, prints once and attaches metadata', () => {
    const chart = Testing.chart();
    const scope = new Construct(chart, 'fn');
    warn(scope, 'x/rule', 'something to know');
    warn(scope, 'x/rule', 'something to know');
    expect(recordedWarnings()).toEqual([{ path: scope.node.path, rule: 'x/rule', message: 'something to know' }]);
    expect(stderr).toHaveBeenCalledTimes(1);
    expect(String(stderr.mock.calls[0][0])).toContain('warning: ' + scope.node.path + ': something to know (x/rule)');
    expect(scope.node.metadata.map((m) => m.type)).toEqual([WARNING_METADATA_TYPE]);
  });

  it('turns placement errors into synth failures and warnings into printed notes that do not fail', () => {
    const warnOnly = Testing.chart();
    const fn = new Construct(warnOnly, 'hello');
    addPlacementValidation(
      fn,
      () => Placement.azureVirtualNode({ version: 'v1' }),
      () => target(functionPod(), { networkPolicy: true }),
    );
    expect(() => Testing.synth(warnOnly)).not.toThrow();
    expect(placementWarnings().map((w) => w.rule)).toEqual(['aci-v1/network-policy']);
    expect(placementWarnings()[0].message).toMatch(/function "hello": its NetworkPolicy will not apply/);

    const failing = Testing.chart();
    const other = new Construct(failing, 'hello');
    addPlacementValidation(
      other,
      () => Placement.azureVirtualNode({ version: 'v1' }),
      () => target(functionPod({ initContainers: [{ name: 'setup' }] })),
    );
    expect(() => Testing.synth(failing)).toThrow(
      /hello.*function "hello": init container "setup" is not supported.*rule aci-v1\/init-containers/s,
    );
  });
});

/** Placement warnings only: every platform also warns that its router code needs server-side apply (test/constructs). */
function placementWarnings() {
  return recordedWarnings().filter((w) => w.rule !== 'apply/last-applied-size');
}
