import { DomainError } from '../../server/domain/errors';
import { luaRefusals, REFUSED, refusalOf, refuse } from '../../server/store/refusals';

describe('refusal codes of the Lua scripts: one table, mapped once', () => {
  test('the Lua prelude defines every code the table has, as a local table', () => {
    expect(luaRefusals()).toBe('local REFUSED = { NOT_FOUND = -1, CONFLICT = -2, FENCE_LOST = -3, ENDED = -4 }\n');
    expect(new Set(Object.values(REFUSED)).size).toBe(Object.keys(REFUSED).length);
  });

  test('a reply is a refusal only when it is one of the codes', () => {
    expect(refusalOf(-2)).toBe('CONFLICT');
    expect(refusalOf(-4)).toBe('ENDED');
    for (const reply of [0, 1, 7, -5, '-2', null, [-2, 0]]) expect(refusalOf(reply)).toBeNull();
  });

  test('refuse() passes results through and throws the refusal as a domain error with the caller\'s message', () => {
    expect(refuse(3)).toBe(3);
    expect(refuse(0)).toBe(0);
    const thrown = (reply: number, messages = {}) => {
      try {
        refuse(reply, messages);
      } catch (e) {
        return e as DomainError;
      }
      throw new Error('did not throw');
    };
    expect(thrown(-1, { NOT_FOUND: 'rollout x not found' })).toMatchObject({ code: 'not_found', message: 'rollout x not found' });
    expect(thrown(-2)).toMatchObject({ code: 'conflict', message: 'changed at the same time; reload and retry' });
    expect(thrown(-3, { CONFLICT: 'not this one' })).toMatchObject({ code: 'conflict', message: 'the controller lease was lost; not applied' });
    expect(thrown(-4)).toBeInstanceOf(DomainError);
  });
});
