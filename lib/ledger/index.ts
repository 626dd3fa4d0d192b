export * from './keys';
export * from './ledger';
export * from './segment-tasks';
export * from './dead-letters';
export { isLeaseLost, LEASE_LOST } from './lease-lost';
export * from './shard-checkpoints';
export * from './shard-leases';
