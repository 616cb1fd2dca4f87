/**
 * The example platform deployed per environment: the very app `cdk8s synth` renders
 * (examples/app.ts), configured from the stack's `kubefaas:*` config.
 */
import * as k8s from '@pulumi/kubernetes';
import { buildExampleApp } from '../../examples/app';
import { KubefaasPlatform } from '../platform-component';
import { exampleAppOptions, readStackConfig, StackConfig } from './config';

/** The Secret the analytics function reads REDIS_PASSWORD from, when `kubefaas:redisPassword` is set. */
export const REDIS_SECRET_NAME = 'kubefaas-redis';
export const REDIS_PASSWORD_KEY = 'REDIS_PASSWORD';

export function deployExample(config: StackConfig = readStackConfig()): KubefaasPlatform {
  const provider = config.kubeconfigContext
    ? new k8s.Provider('kubernetes', { context: config.kubeconfigContext })
    : undefined;
  const options = exampleAppOptions(config, REDIS_SECRET_NAME);
  return new KubefaasPlatform('kubefaas', {
    build: (app) => buildExampleApp(app, options),
    provider,
    secrets: config.redisPassword
      ? { [REDIS_SECRET_NAME]: { stringData: { [REDIS_PASSWORD_KEY]: config.redisPassword } } }
      : undefined,
    gatewayUrlScheme: config.exposure.kind === 'gateway' ? config.exposure.scheme : undefined,
  });
}
