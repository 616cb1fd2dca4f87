/**
 * The scaler's hand-written codec (src/scaler/protocol.ts) against protobufjs compiling
 * externalscaler.proto (through @grpc/proto-loader, as a grpc-js client would): each side decodes what
 * the other encodes, for fixed cases and random ones.
 */
import fc from 'fast-check';
import type { MethodDefinition } from '@grpc/proto-loader';
import {
  ExternalScalerService,
  type GetMetricSpecResponse,
  type GetMetricsRequest,
  type GetMetricsResponse,
  type ScaledObjectRef,
  decodeGetMetricSpecResponse,
  decodeGetMetricsRequest,
  decodeGetMetricsResponse,
  decodeIsActiveResponse,
  decodeScaledObjectRef,
  encodeGetMetricSpecResponse,
  encodeGetMetricsRequest,
  encodeGetMetricsResponse,
  encodeIsActiveResponse,
  encodeScaledObjectRef,
} from '../../src/scaler/protocol';
import { ProtoError } from '../../src/scaler/wire';
import { loadProto } from './harness';

const service = loadProto()['externalscaler.ExternalScaler'] as unknown as Record<
  string,
  MethodDefinition<unknown, unknown>
>;
const theirs = {
  ref: { encode: service.IsActive.requestSerialize, decode: service.IsActive.requestDeserialize },
  isActive: { encode: service.IsActive.responseSerialize, decode: service.IsActive.responseDeserialize },
  spec: { encode: service.GetMetricSpec.responseSerialize, decode: service.GetMetricSpec.responseDeserialize },
  request: { encode: service.GetMetrics.requestSerialize, decode: service.GetMetrics.requestDeserialize },
  metrics: { encode: service.GetMetrics.responseSerialize, decode: service.GetMetrics.responseDeserialize },
};

/** Plain JSON values for toEqual (protobufjs' objects carry their own prototypes). */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const refs: ScaledObjectRef[] = [
  { name: '', namespace: '', scalerMetadata: {} },
  {
    name: 'fn-resize',
    namespace: 'faas',
    scalerMetadata: { scalerAddress: 'kubefaas-scaler.faas:9090', function: 'resize' },
  },
  {
    name: 'ünïcödé-✓',
    namespace: 'ns',
    scalerMetadata: { '': 'empty key', empty: '', __proto__x: 'y', long: 'x'.repeat(70_000), emoji: '🚀' },
  },
];

describe('codec vs protobufjs', () => {
  test("method paths are KEDA's", () => {
    for (const [name, method] of Object.entries(ExternalScalerService)) {
      expect(method.path).toBe(service[name].path);
      expect(method.responseStream).toBe(service[name].responseStream);
      expect(method.requestStream).toBe(service[name].requestStream);
    }
  });

  test.each(refs.map((r) => [r.name || '(empty)', r] as const))('ScaledObjectRef %s both ways', (_, ref) => {
    expect(plain(decodeScaledObjectRef(theirs.ref.encode(ref)))).toEqual(ref);
    expect(theirs.ref.decode(encodeScaledObjectRef(ref))).toEqual(ref);
  });

  test('a `__proto__` metadata key is data, not a prototype', () => {
    const bytes = theirs.ref.encode({
      name: 'n',
      namespace: '',
      scalerMetadata: { ['__proto__']: 'x', function: 'f' },
    });
    const decoded = decodeScaledObjectRef(bytes);
    expect(Object.getPrototypeOf(decoded.scalerMetadata)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(decoded.scalerMetadata, '__proto__')?.value).toBe('x');
    expect(Object.keys(decoded.scalerMetadata)).toEqual(['__proto__', 'function']);
    expect(decoded.scalerMetadata.function).toBe('f');
  });

  test('IsActiveResponse both ways', () => {
    for (const result of [true, false]) {
      expect(decodeIsActiveResponse(theirs.isActive.encode({ result }))).toEqual({ result });
      expect(theirs.isActive.decode(encodeIsActiveResponse({ result }))).toEqual({ result });
    }
  });

  const specs: GetMetricSpecResponse[] = [
    { metricSpecs: [] },
    { metricSpecs: [{ metricName: 'kubefaas-a-concurrency', targetSize: 100, targetSizeFloat: 100 }] },
    {
      metricSpecs: [
        { metricName: 'x', targetSize: 0, targetSizeFloat: 0.1 },
        { metricName: '', targetSize: 2 ** 40 + 3, targetSizeFloat: 1e300 },
        { metricName: 'neg', targetSize: -5, targetSizeFloat: -2.5 },
        { metricName: 'max', targetSize: Number.MAX_SAFE_INTEGER, targetSizeFloat: Number.MIN_VALUE },
      ],
    },
  ];
  test.each(specs.map((s, i) => [i, s] as const))('GetMetricSpecResponse #%i both ways', (_, spec) => {
    expect(decodeGetMetricSpecResponse(theirs.spec.encode(spec))).toEqual(spec);
    expect(theirs.spec.decode(encodeGetMetricSpecResponse(spec))).toEqual(spec);
  });

  const requests: GetMetricsRequest[] = [
    { metricName: 'kubefaas-a-rps', scaledObjectRef: refs[1] },
    { metricName: '', scaledObjectRef: refs[2] },
  ];
  test.each(requests.map((r, i) => [i, r] as const))('GetMetricsRequest #%i both ways', (_, request) => {
    expect(plain(decodeGetMetricsRequest(theirs.request.encode(request)))).toEqual(request);
    expect(theirs.request.decode(encodeGetMetricsRequest(request))).toEqual(request);
  });

  test('GetMetricsRequest without a ref', () => {
    expect(decodeGetMetricsRequest(theirs.request.encode({ metricName: 'm' }))).toEqual({
      metricName: 'm',
      scaledObjectRef: undefined,
    });
    expect(theirs.request.decode(encodeGetMetricsRequest({ metricName: 'm' }))).toMatchObject({ metricName: 'm' });
  });

  const values: GetMetricsResponse[] = [
    { metricValues: [] },
    {
      metricValues: [
        { metricName: 'kubefaas-a-concurrency', metricValue: 12, metricValueFloat: 12 },
        { metricName: 'r', metricValue: 0, metricValueFloat: 0.333 },
        { metricName: 'big', metricValue: 2 ** 52, metricValueFloat: 2 ** 52 + 0.5 },
        { metricName: 'neg', metricValue: -1, metricValueFloat: -0 },
      ],
    },
  ];
  test.each(values.map((v, i) => [i, v] as const))('GetMetricsResponse #%i both ways', (_, value) => {
    expect(decodeGetMetricsResponse(theirs.metrics.encode(value))).toEqual(value);
    expect(theirs.metrics.decode(encodeGetMetricsResponse(value))).toEqual(value);
  });

  test('random messages both ways', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 40 });
    const ref = fc.record({ name: text, namespace: text, scalerMetadata: fc.dictionary(text, text, { maxKeys: 8 }) });
    const int = fc.integer({ min: -(2 ** 40), max: 2 ** 50 });
    const dbl = fc.double({ noNaN: true });
    fc.assert(
      fc.property(
        ref,
        text,
        fc.array(fc.record({ metricName: text, metricValue: int, metricValueFloat: dbl })),
        (r, name, vs) => {
          expect(plain(decodeScaledObjectRef(theirs.ref.encode(r)))).toEqual(plain(r));
          expect(plain(theirs.ref.decode(encodeScaledObjectRef(r)))).toEqual(plain(r));
          const request = { scaledObjectRef: r, metricName: name };
          expect(plain(decodeGetMetricsRequest(theirs.request.encode(request)))).toEqual(plain(request));
          const response = { metricValues: vs };
          expect(decodeGetMetricsResponse(theirs.metrics.encode(response))).toEqual(response);
          expect(theirs.metrics.decode(encodeGetMetricsResponse(response))).toEqual(response);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('decoder robustness', () => {
  test('unknown fields of every wire type are skipped', () => {
    const known = theirs.ref.encode(refs[1]);
    const unknown = Buffer.from([
      0x78,
      0x96,
      0x01, // field 15, varint 150
      0x71,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8, // field 14, fixed64
      0x6a,
      0x02,
      0x68,
      0x69, // field 13, bytes "hi"
      0x65,
      1,
      2,
      3,
      4, // field 12, fixed32
    ]);
    expect(plain(decodeScaledObjectRef(Buffer.concat([unknown, known, unknown])))).toEqual(refs[1]);
  });

  test.each([
    ['a truncated length', [0x0a, 0x05, 0x61]],
    ['a truncated varint', [0x08, 0x80]],
    ['a varint longer than 10 bytes', [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]],
    ['a group (wire type 3)', [0x0b, 0x0c]],
    ['a string field sent as a varint', [0x08, 0x01]],
    ['field number 0', [0x00, 0x01]],
    ['a truncated fixed64', [0x71, 1, 2]],
  ])('%s is a ProtoError', (_, bytes) => {
    expect(() => decodeScaledObjectRef(Buffer.from(bytes))).toThrow(ProtoError);
  });

  test('a map entry with extra fields keeps key and value', () => {
    // entry { 1: "k", 3: varint 7 (unknown), 2: "v" }
    const entry = [0x0a, 0x01, 0x6b, 0x18, 0x07, 0x12, 0x01, 0x76];
    const bytes = Buffer.from([0x1a, entry.length, ...entry]);
    expect(plain(decodeScaledObjectRef(bytes))).toEqual({ name: '', namespace: '', scalerMetadata: { k: 'v' } });
  });
});
