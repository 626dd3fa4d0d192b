export * from './messages';
export * from './parse';
export * from './record-resolver';
export * from './record-sets';
export * from './traffic-router';
