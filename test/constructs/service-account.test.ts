/**
 * The `serviceAccount` prop: a created ServiceAccount (annotations for IRSA / Azure Workload Identity)
 * or an existing one; the API token is mounted only when asked; bad input fails with the path.
 */
import { ContainerFunction, FunctionServiceAccount, NodeFunction, ValidationError } from '../../constructs';
import { errorOf, expectValid, find, INLINE, maybeFind, newPlatform, synth } from './helpers';

const ROLE = 'arn:aws:iam::123456789012:role/orders';
const CLIENT_ID = '00000000-1111-2222-3333-444444444444';

function pod(objects: ReturnType<typeof synth>, name: string) {
  return find(objects, 'Deployment', name).spec.template;
}

test('without the prop the pods keep the default account and no token (as before)', () => {
  const platform = newPlatform();
  new NodeFunction(platform, 'plain', { code: INLINE });
  const objects = synth(platform);
  expect(pod(objects, 'plain').spec.serviceAccountName).toBeUndefined();
  expect(pod(objects, 'plain').spec.automountServiceAccountToken).toBe(false);
  expect(objects.filter((o) => o.kind === 'ServiceAccount')).toEqual([]);
});

test('IRSA: a ServiceAccount annotated with the role, used by the pods, token not mounted', async () => {
  const platform = newPlatform();
  const fn = new NodeFunction(platform, 'orders', {
    code: INLINE,
    serviceAccount: FunctionServiceAccount.awsIamRole(ROLE),
  });
  expect(fn.serviceAccountName).toBe('orders');
  const objects = synth(platform);
  const account = find(objects, 'ServiceAccount', 'orders');
  expect(account.metadata.namespace).toBe('kubefaas');
  expect(account.metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': ROLE });
  expect(account.automountServiceAccountToken).toBe(false);
  expect(pod(objects, 'orders').spec.serviceAccountName).toBe('orders');
  expect(pod(objects, 'orders').spec.automountServiceAccountToken).toBe(false);
  await expectValid(objects);
});

test('Azure Workload Identity: client id (and tenant) annotations plus the use label on the pods', async () => {
  const platform = newPlatform();
  new ContainerFunction(platform, 'img', {
    image: 'ghcr.io/example/img:1.0.0',
    labels: { team: 'shop' },
    serviceAccount: FunctionServiceAccount.azureWorkloadIdentity(CLIENT_ID, {
      tenantId: '55555555-6666-7777-8888-999999999999',
    }),
  });
  const objects = synth(platform);
  expect(find(objects, 'ServiceAccount', 'img').metadata.annotations).toEqual({
    'azure.workload.identity/client-id': CLIENT_ID,
    'azure.workload.identity/tenant-id': '55555555-6666-7777-8888-999999999999',
  });
  const template = pod(objects, 'img');
  expect(template.metadata.labels).toMatchObject({ 'azure.workload.identity/use': 'true', team: 'shop' });
  expect(template.spec.serviceAccountName).toBe('img');
  // The selector stays the function label: the identity label does not change which pods the Service reaches.
  expect(find(objects, 'Deployment', 'img').spec.selector.matchLabels).toEqual({ 'kubefaas.dev/function': 'img' });
  await expectValid(objects);
});

test('an existing account by name: no ServiceAccount object; automountToken: true mounts the token', async () => {
  const platform = newPlatform();
  new NodeFunction(platform, 'operator', {
    code: INLINE,
    serviceAccount: FunctionServiceAccount.fromName('cluster-reader', { automountToken: true }),
  });
  new NodeFunction(platform, 'custom', {
    code: INLINE,
    serviceAccount: FunctionServiceAccount.create({
      annotations: { 'example.com/owner': 'team-a' },
      automountToken: true,
    }),
  });
  const objects = synth(platform);
  expect(maybeFind(objects, 'ServiceAccount', 'cluster-reader')).toBeUndefined();
  expect(pod(objects, 'operator').spec).toMatchObject({
    serviceAccountName: 'cluster-reader',
    automountServiceAccountToken: true,
  });
  expect(pod(objects, 'custom').spec).toMatchObject({
    serviceAccountName: 'custom',
    automountServiceAccountToken: true,
  });
  expect(find(objects, 'ServiceAccount', 'custom').automountServiceAccountToken).toBe(true);
  await expectValid(objects, { externalServiceAccounts: ['cluster-reader'] });
  // The semantic check notices a pod naming an account that exists nowhere.
  await expect(expectValid(objects)).rejects.toThrow(/ServiceAccount "cluster-reader"/);
});

test.each([
  [
    'an existing name that is not DNS-1123',
    FunctionServiceAccount.fromName('Not_A_Name'),
    /'Not_A_Name' is not a valid ServiceAccount name/,
  ],
  [
    'a malformed role ARN',
    FunctionServiceAccount.awsIamRole('arn:aws:s3:::bucket'),
    /IAM role ARN 'arn:aws:s3:::bucket' is not a role ARN/,
  ],
  [
    'a client id that is no GUID',
    FunctionServiceAccount.azureWorkloadIdentity('my-app'),
    /Azure client id 'my-app' is not a GUID/,
  ],
  [
    'automountToken that is not a boolean',
    FunctionServiceAccount.fromName('x', { automountToken: 'yes' as unknown as boolean }),
    /automountToken must be true or false/,
  ],
  [
    'an annotation in kubefaas.dev/',
    FunctionServiceAccount.create({ annotations: { 'kubefaas.dev/x': 'y' } }),
    /kubefaas\.dev\/ namespace/,
  ],
  [
    'an invalid annotation key',
    FunctionServiceAccount.create({ annotations: { 'bad key': 'y' } }),
    /invalid annotation key 'bad key'/,
  ],
])('%s is a ValidationError naming the function', (_what, account, message) => {
  const platform = newPlatform();
  const error = errorOf(() => new NodeFunction(platform, 'fn', { code: INLINE, serviceAccount: account }));
  expect(error).toBeInstanceOf(ValidationError);
  expect(error.message).toMatch(message);
  expect(error.message).toContain('platform/fn');
});

test('contradictions: function labels against the identity pod label; a plain object instead of an account', () => {
  const platform = newPlatform();
  const clash = errorOf(
    () =>
      new NodeFunction(platform, 'fn', {
        code: INLINE,
        labels: { 'azure.workload.identity/use': 'false' },
        serviceAccount: FunctionServiceAccount.azureWorkloadIdentity(CLIENT_ID),
      }),
  );
  expect(clash).toBeInstanceOf(ValidationError);
  expect(clash.message).toMatch(
    /platform\/fn.*needs pod label azure\.workload\.identity\/use: "true", but the function's labels set it to "false"/s,
  );
  const plain = errorOf(
    () =>
      new NodeFunction(platform, 'fn2', {
        code: INLINE,
        serviceAccount: { name: 'x' } as unknown as FunctionServiceAccount,
      }),
  );
  expect(plain.message).toMatch(/platform\/fn2.*must be a FunctionServiceAccount/s);
});
