/** The Redis Cluster slot of a key (CRC16 of its hash tag, mod 16384): the package ioredis routes with. */
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
