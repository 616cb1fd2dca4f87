export * from './router-auth';
export * from './rate-limit';
export * from './callback-policy';
export * from './cors';
