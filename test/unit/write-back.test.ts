import { Fetched, WriteBack } from '../../server/store/write-back';

/** The write-back view a fold counts through (no I/O): reads of what was not fetched are misses, writes stay until writes(). */
describe('WriteBack', () => {
  test('a read of what was not fetched is a miss and reads as absent; fetched, it reads as stored', () => {
    const f = new Fetched();
    const w = new WriteBack(f);
    expect(w.hget('h', 'a')).toBe(false);
    expect(w.sismember('s', 'x')).toBe(false);
    expect(w.scard('s')).toBe(0);
    expect(w.hexists('md')).toBe(false);
    w.hget('h', 'a'); // the same miss once
    expect(w.misses.size).toBe(4);
    expect([...w.misses.fields.get('h')!]).toEqual(['a']);
    expect([...w.misses.members.get('s')!]).toEqual(['x']);
    expect([...w.misses.cards]).toEqual(['s']);
    expect([...w.misses.exists]).toEqual(['md']);
    f.fields.set('h', new Map([['a', '7']]));
    f.members.set('s', new Map([['x', true]]));
    f.cards.set('s', 3);
    f.exists.set('md', true);
    const again = new WriteBack(f);
    expect([again.hget('h', 'a'), again.sismember('s', 'x'), again.scard('s'), again.hexists('md')]).toEqual(['7', true, 3, true]);
    expect(again.misses.size).toBe(0);
  });

  test('writes are read back, and come out once per field and member', () => {
    const f = new Fetched();
    f.fields.set('h', new Map<string, string | false>([['n', '2'], ['gone', '1']]));
    f.members.set('s', new Map([['x', true], ['y', false]]));
    f.cards.set('s', 1);
    const w = new WriteBack(f);
    expect(w.hincrby('h', 'n', 3)).toBe(5);
    expect(w.hincrby('h', 'n', -1)).toBe(4);
    w.hdel('h', 'gone');
    expect(w.hget('h', 'gone')).toBe(false);
    expect(w.sadd('s', 'x')).toBe(false);
    expect(w.sadd('s', 'y')).toBe(true);
    expect(w.sadd('s', 'y')).toBe(false);
    expect(w.scard('s')).toBe(2);
    w.zincrby('z', 1, 't');
    w.zincrby('z', 2, 't');
    const out = w.writes();
    expect([...out.hashes.get('h')!]).toEqual([['n', '4'], ['gone', false]]);
    expect(out.sets.get('s')).toEqual(['y']);
    expect([...out.zsets.get('z')!]).toEqual([['t', 3]]);
    expect(out.del).toEqual([]);
    expect(w.misses.size).toBe(0);
  });

  test('after a DEL a key reads as empty, without a miss, and what was written to it before goes', () => {
    const f = new Fetched();
    f.fields.set('h', new Map([['a', '1']]));
    f.members.set('s', new Map([['x', false]]));
    const w = new WriteBack(f);
    w.hset('h', 'b', '2');
    w.sadd('s', 'x');
    w.del('h', 's');
    expect([w.hget('h', 'a'), w.hget('h', 'b'), w.hget('h', 'zz'), w.sismember('s', 'x'), w.scard('s'), w.hexists('h')]).toEqual([false, false, false, false, 0, false]);
    expect(w.misses.size).toBe(0);
    w.hset('h', 'c', '3');
    expect(w.hexists('h')).toBe(true);
    const out = w.writes();
    expect(out.del).toEqual(['h', 's']);
    expect([...out.hashes.get('h')!]).toEqual([['c', '3']]);
    expect(out.sets.has('s')).toBe(false);
  });

  test('an increment reads nothing (no miss) and comes out summed; reading the field after it, or deleting its key first, is refused', () => {
    const w = new WriteBack(new Fetched());
    w.incr('c', 'runs', 1);
    w.incr('c', 'runs', 2);
    w.incr('c', 'errors', 1);
    expect(w.misses.size).toBe(0);
    expect([...w.writes().incrs.get('c')!]).toEqual([['runs', 3], ['errors', 1]]);
    expect(() => w.hget('c', 'runs')).toThrow(/read after an increment/);
    expect(w.hget('c', 'other')).toBe(false);
    // a DEL drops the increments before it
    w.del('c');
    expect(w.writes().incrs.has('c')).toBe(false);
    w.incr('c', 'runs', 1);
    expect(() => w.writes()).toThrow(/incremented after it was deleted/);
  });
});
