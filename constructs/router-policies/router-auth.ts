import { Duration } from 'cdk8s';
import type { IConstruct } from 'constructs';
import { JWT_ALGORITHMS, MAX_JWT_CLOCK_SKEW_SECONDS, type AuthPolicy, type JwtAlgorithm } from '../../src/contract';
import { ValidationError } from '../errors';
import { isDns1123Subdomain } from '../validation';

export interface SecretAuthProps {
  /** Name of the Secret in the platform namespace (mounted into the router pods, never copied). */
  readonly secret: string;
}

export interface BasicAuthProps extends SecretAuthProps {
  /** @default 'kubefaas' */
  readonly realm?: string;
}

export interface JwtAuthProps {
  /** Required `iss` of tokens. */
  readonly issuer: string;
  /** Accepted `aud` value(s). */
  readonly audience: string | readonly string[];
  /** The issuer's JWKS URL (one of jwksUri / publicKey). */
  readonly jwksUri?: string;
  /** A PEM SPKI public key or a public JWK as JSON text (one of jwksUri / publicKey). */
  readonly publicKey?: string;
  /** @default ['RS256', 'ES256', 'EdDSA'] */
  readonly algorithms?: readonly JwtAlgorithm[];
  /** @default Duration.seconds(30) */
  readonly clockSkew?: Duration;
  /** Scopes every token must carry (else 403). @default - none */
  readonly requiredScopes?: readonly string[];
  /** Claims with required values (else 403). @default - none */
  readonly requiredClaims?: Readonly<Record<string, string>>;
}

/** How the router authenticates callers: per platform (`router.auth`), overridable per HttpTrigger. */
export abstract class RouterAuth {
  /** No authentication (a public route on a platform with auth). */
  public static none(): RouterAuth {
    return new (class extends RouterAuth {
      public policy(): AuthPolicy {
        return { type: 'none' };
      }
    })();
  }

  /** API keys from a Secret: each Secret key is a key id, its value the API key. */
  public static apiKeys(props: SecretAuthProps): RouterAuth {
    return new (class extends RouterAuth {
      public override readonly secretName = props.secret;
      public policy(scope: IConstruct): AuthPolicy {
        return { type: 'apiKeys', secret: checkSecret(scope, props.secret) };
      }
    })();
  }

  /** HTTP basic against bcrypt htpasswd lines in the Secret's `htpasswd` key. */
  public static basic(props: BasicAuthProps): RouterAuth {
    return new (class extends RouterAuth {
      public override readonly secretName = props.secret;
      public policy(scope: IConstruct): AuthPolicy {
        return { type: 'basic', secret: checkSecret(scope, props.secret), realm: props.realm ?? 'kubefaas' };
      }
    })();
  }

  /** Bearer JWTs (asymmetric algorithms only) against a JWKS URL or a static public key. */
  public static jwt(props: JwtAuthProps): RouterAuth {
    return new (class extends RouterAuth {
      public policy(scope: IConstruct): AuthPolicy {
        return jwtPolicy(scope, props ?? ({} as JwtAuthProps));
      }
    })();
  }

  /** The Secret the router must mount, if any. */
  public readonly secretName: string | undefined = undefined;

  /** The route-table form, validated (ValidationError naming `scope`). */
  public abstract policy(scope: IConstruct): AuthPolicy;
}

function checkSecret(scope: IConstruct, name: unknown): string {
  if (typeof name !== 'string' || !isDns1123Subdomain(name)) {
    throw new ValidationError(
      scope,
      `auth secret '${String(name)}' is not a valid Secret name`,
      'Use a DNS-1123 subdomain: lower-case letters, digits, "-" and "."',
    );
  }
  return name;
}

function jwtPolicy(scope: IConstruct, props: JwtAuthProps): AuthPolicy {
  if (typeof props.issuer !== 'string' || props.issuer === '') {
    throw new ValidationError(
      scope,
      'RouterAuth.jwt needs an issuer',
      "Set `issuer` to the token issuer's `iss`, e.g. 'https://login.example.com/'",
    );
  }
  const audience = typeof props.audience === 'string' ? [props.audience] : [...(props.audience ?? [])];
  if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === '')) {
    throw new ValidationError(
      scope,
      'RouterAuth.jwt needs an audience',
      'Set `audience` to the `aud` your tokens carry',
    );
  }
  if ((props.jwksUri === undefined) === (props.publicKey === undefined)) {
    throw new ValidationError(
      scope,
      'RouterAuth.jwt needs exactly one of jwksUri and publicKey',
      'Give the issuer JWKS URL, or one public key',
    );
  }
  if (props.jwksUri !== undefined && !/^https?:\/\/[^/]/.test(props.jwksUri)) {
    throw new ValidationError(
      scope,
      `RouterAuth.jwt jwksUri '${props.jwksUri}' is not an http(s) URL`,
      'Use the https:// URL of the JWKS',
    );
  }
  const algorithms = [...(props.algorithms ?? ['RS256', 'ES256', 'EdDSA'])];
  const bad = algorithms.find((a) => !JWT_ALGORITHMS.includes(a));
  if (algorithms.length === 0 || bad !== undefined) {
    throw new ValidationError(
      scope,
      `RouterAuth.jwt algorithm '${String(bad)}' is not accepted`,
      `Use asymmetric algorithms: ${JWT_ALGORITHMS.join(', ')} (none and HS* are refused)`,
    );
  }
  const skew = (props.clockSkew ?? Duration.seconds(30)).toSeconds();
  if (!(skew >= 0 && skew <= MAX_JWT_CLOCK_SKEW_SECONDS)) {
    throw new ValidationError(
      scope,
      `RouterAuth.jwt clockSkew of ${skew} s is out of range`,
      `Use at most ${MAX_JWT_CLOCK_SKEW_SECONDS} seconds`,
    );
  }
  return {
    type: 'jwt',
    issuer: props.issuer,
    audience,
    algorithms,
    clockSkewSeconds: skew,
    ...(props.jwksUri !== undefined ? { jwksUri: props.jwksUri } : { publicKey: props.publicKey as string }),
    ...(props.requiredScopes ? { requiredScopes: [...props.requiredScopes] } : {}),
    ...(props.requiredClaims ? { requiredClaims: { ...props.requiredClaims } } : {}),
  };
}
