export * from './router-auth';
export * from './rate-limit';
