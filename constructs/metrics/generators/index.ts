export * from './alerts';
export * from './alertmanager';
export * from './catalog';
export * from './dashboard';
export * from './duration';
export * from './rules';
export * from './scrape';
