import { MIN_REDIS_VERSION, redisVersionOf, requireRedisVersion } from '../../server/store/redis';

test('the Redis version from INFO server, and what counts as too old', () => {
  const info = (v: string) => `# Server\r\nredis_version:${v}\r\nredis_git_sha1:00000000\r\n`;
  expect(redisVersionOf(info('7.0.15'))).toEqual([7, 0, 15]);
  expect(redisVersionOf(info('6.2.14'))).toEqual([6, 2, 14]);
  expect(redisVersionOf(info('255.255'))).toEqual([255, 255, 0]);
  expect(redisVersionOf('# Server\r\nos:Linux\r\n')).toBeNull();
  // the scripts' floor: EXPIRE … NX (retire.lua) came with 7.0
  expect(MIN_REDIS_VERSION).toEqual([7, 0]);
});

test('a Redis older than 7.0 is refused at start, naming its address and version; 7.0 and unknown pass', async () => {
  const node = (v: string | null) => ({ options: { host: '10.0.0.5', port: 6380 }, info: async () => (v ? `redis_version:${v}\r\n` : 'os:Linux\r\n') }) as never;
  await expect(requireRedisVersion(node('6.2.14'))).rejects.toThrow('Redis 7.0 or newer is needed (EXPIRE NX in retention); the server at 10.0.0.5:6380 runs 6.2.14');
  await expect(requireRedisVersion(node('7.0.0'))).resolves.toBeUndefined();
  await expect(requireRedisVersion(node(null))).resolves.toBeUndefined();
});
