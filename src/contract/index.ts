/**
 * The one contract shared by synth-time code (constructs/) and the code that runs in pods
 * (src/runtime, src/router, src/cron, src/queue) or on the developer's machine (src/local, src/cli).
 *
 * Everything both sides must agree on lives here, once, one concept per file. This directory
 * imports nothing outside itself: no npm packages and no other module of the repository (it is
 * bundled into the in-pod code, and dependency-cruiser enforces it; see .dependency-cruiser.cjs).
 */
export * from './cron';
export * from './env';
export * from './events';
export * from './graph';
export * from './handler';
export * from './http';
export * from './metrics';
export * from './names';
export * from './params';
export * from './policies';
export * from './pods';
export * from './queue';
export * from './refs';
export * from './routes';
export * from './scaling';
export * from './subjects';
