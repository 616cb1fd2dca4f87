/**
 * KEDA's external-scaler gRPC service (`externalscaler.ExternalScaler`, see externalscaler.proto):
 * the message shapes, their protobuf codecs and the grpc-js service definition. The scaler serves it;
 * the local runner (playing KEDA) and the tests build clients from the same definition.
 */
import type { ServiceDefinition } from '@grpc/grpc-js';
import { ProtoReader, ProtoWriter, WireType } from './wire';

export interface ScaledObjectRef {
  readonly name: string;
  readonly namespace: string;
  /** The trigger's `metadata` as KEDA resolved it (includes `scalerAddress`). */
  readonly scalerMetadata: Readonly<Record<string, string>>;
}

export interface IsActiveResponse {
  readonly result: boolean;
}

export interface MetricSpec {
  readonly metricName: string;
  /** Deprecated by KEDA (integer); filled for older releases. */
  readonly targetSize: number;
  readonly targetSizeFloat: number;
}

export interface GetMetricSpecResponse {
  readonly metricSpecs: readonly MetricSpec[];
}

export interface GetMetricsRequest {
  readonly scaledObjectRef?: ScaledObjectRef;
  readonly metricName: string;
}

export interface MetricValue {
  readonly metricName: string;
  /** Deprecated by KEDA (integer); filled for older releases. */
  readonly metricValue: number;
  readonly metricValueFloat: number;
}

export interface GetMetricsResponse {
  readonly metricValues: readonly MetricValue[];
}

// --- ScaledObjectRef { string name = 1; string namespace = 2; map<string, string> scalerMetadata = 3; }

function writeScaledObjectRef(w: ProtoWriter, ref: ScaledObjectRef): void {
  w.string(1, ref.name).string(2, ref.namespace);
  for (const [key, value] of Object.entries(ref.scalerMetadata)) {
    // A map entry is a message { string key = 1; string value = 2; }.
    w.message(3, (entry) => entry.string(1, key).string(2, value));
  }
}

function readScaledObjectRef(r: ProtoReader): ScaledObjectRef {
  let name = '';
  let namespace = '';
  const scalerMetadata: Record<string, string> = {};
  while (r.next()) {
    switch (r.field) {
      case 1:
        name = r.expect(WireType.bytes).string();
        break;
      case 2:
        namespace = r.expect(WireType.bytes).string();
        break;
      case 3: {
        const entry = r.expect(WireType.bytes).message();
        let key = '';
        let value = '';
        while (entry.next()) {
          if (entry.field === 1) key = entry.expect(WireType.bytes).string();
          else if (entry.field === 2) value = entry.expect(WireType.bytes).string();
          else entry.skip();
        }
        // A repeated key: the last one wins, as protobuf maps do. `__proto__` is a key like any other
        // (plain assignment would call the prototype setter and drop it).
        if (key === '__proto__') {
          Object.defineProperty(scalerMetadata, key, { value, enumerable: true, writable: true, configurable: true });
        } else {
          scalerMetadata[key] = value;
        }
        break;
      }
      default:
        r.skip();
    }
  }
  return { name, namespace, scalerMetadata };
}

export function encodeScaledObjectRef(ref: ScaledObjectRef): Buffer {
  const w = new ProtoWriter();
  writeScaledObjectRef(w, ref);
  return w.finish();
}

export function decodeScaledObjectRef(bytes: Uint8Array): ScaledObjectRef {
  return readScaledObjectRef(new ProtoReader(bytes));
}

// --- IsActiveResponse { bool result = 1; }

export function encodeIsActiveResponse(response: IsActiveResponse): Buffer {
  return new ProtoWriter().bool(1, response.result).finish();
}

export function decodeIsActiveResponse(bytes: Uint8Array): IsActiveResponse {
  const r = new ProtoReader(bytes);
  let result = false;
  while (r.next()) {
    if (r.field === 1) result = r.expect(WireType.varint).bool();
    else r.skip();
  }
  return { result };
}

// --- GetMetricSpecResponse { repeated MetricSpec metricSpecs = 1; }
// --- MetricSpec { string metricName = 1; int64 targetSize = 2; double targetSizeFloat = 3; }

/**
 * MetricSpec and MetricValue have the same shape on the wire (string 1, int64 2, double 3): one
 * writer and reader for both repeated fields, each message naming its own fields.
 */
function encodeNamedNumbers(items: readonly (readonly [string, number, number])[]): Buffer {
  const w = new ProtoWriter();
  for (const [name, int, float] of items) w.message(1, (m) => m.string(1, name).int64(2, int).double(3, float));
  return w.finish();
}

function decodeNamedNumbers(bytes: Uint8Array): [string, number, number][] {
  const r = new ProtoReader(bytes);
  const items: [string, number, number][] = [];
  while (r.next()) {
    if (r.field !== 1) {
      r.skip();
      continue;
    }
    const m = r.expect(WireType.bytes).message();
    const item: [string, number, number] = ['', 0, 0];
    while (m.next()) {
      if (m.field === 1) item[0] = m.expect(WireType.bytes).string();
      else if (m.field === 2) item[1] = m.expect(WireType.varint).int64();
      else if (m.field === 3) item[2] = m.expect(WireType.fixed64).double();
      else m.skip();
    }
    items.push(item);
  }
  return items;
}

export function encodeGetMetricSpecResponse(response: GetMetricSpecResponse): Buffer {
  return encodeNamedNumbers(response.metricSpecs.map((s) => [s.metricName, s.targetSize, s.targetSizeFloat] as const));
}

export function decodeGetMetricSpecResponse(bytes: Uint8Array): GetMetricSpecResponse {
  return {
    metricSpecs: decodeNamedNumbers(bytes).map(([metricName, targetSize, targetSizeFloat]): MetricSpec => ({
      metricName,
      targetSize,
      targetSizeFloat,
    })),
  };
}

// --- GetMetricsRequest { ScaledObjectRef scaledObjectRef = 1; string metricName = 2; }

export function encodeGetMetricsRequest(request: GetMetricsRequest): Buffer {
  const w = new ProtoWriter();
  const ref = request.scaledObjectRef;
  if (ref !== undefined) w.message(1, (m) => writeScaledObjectRef(m, ref));
  return w.string(2, request.metricName).finish();
}

export function decodeGetMetricsRequest(bytes: Uint8Array): GetMetricsRequest {
  const r = new ProtoReader(bytes);
  let scaledObjectRef: ScaledObjectRef | undefined;
  let metricName = '';
  while (r.next()) {
    if (r.field === 1) scaledObjectRef = readScaledObjectRef(r.expect(WireType.bytes).message());
    else if (r.field === 2) metricName = r.expect(WireType.bytes).string();
    else r.skip();
  }
  return { scaledObjectRef, metricName };
}

// --- GetMetricsResponse { repeated MetricValue metricValues = 1; }
// --- MetricValue { string metricName = 1; int64 metricValue = 2; double metricValueFloat = 3; }

export function encodeGetMetricsResponse(response: GetMetricsResponse): Buffer {
  return encodeNamedNumbers(
    response.metricValues.map((v) => [v.metricName, v.metricValue, v.metricValueFloat] as const),
  );
}

export function decodeGetMetricsResponse(bytes: Uint8Array): GetMetricsResponse {
  return {
    metricValues: decodeNamedNumbers(bytes).map(([metricName, metricValue, metricValueFloat]): MetricValue => ({
      metricName,
      metricValue,
      metricValueFloat,
    })),
  };
}

/** `/<package>.<service>/<method>`, the HTTP/2 path of each call. */
const SERVICE_PATH = '/externalscaler.ExternalScaler';

/** The service as grpc-js serves and calls it (`server.addService`, `makeGenericClientConstructor`). */
export const ExternalScalerService = {
  IsActive: {
    path: `${SERVICE_PATH}/IsActive`,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeScaledObjectRef,
    requestDeserialize: decodeScaledObjectRef,
    responseSerialize: encodeIsActiveResponse,
    responseDeserialize: decodeIsActiveResponse,
  },
  StreamIsActive: {
    path: `${SERVICE_PATH}/StreamIsActive`,
    requestStream: false,
    responseStream: true,
    requestSerialize: encodeScaledObjectRef,
    requestDeserialize: decodeScaledObjectRef,
    responseSerialize: encodeIsActiveResponse,
    responseDeserialize: decodeIsActiveResponse,
  },
  GetMetricSpec: {
    path: `${SERVICE_PATH}/GetMetricSpec`,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeScaledObjectRef,
    requestDeserialize: decodeScaledObjectRef,
    responseSerialize: encodeGetMetricSpecResponse,
    responseDeserialize: decodeGetMetricSpecResponse,
  },
  GetMetrics: {
    path: `${SERVICE_PATH}/GetMetrics`,
    requestStream: false,
    responseStream: false,
    requestSerialize: encodeGetMetricsRequest,
    requestDeserialize: decodeGetMetricsRequest,
    responseSerialize: encodeGetMetricsResponse,
    responseDeserialize: decodeGetMetricsResponse,
  },
} as const satisfies ServiceDefinition;

export type ExternalScalerMethod = keyof typeof ExternalScalerService;
