/** The zod issue formatter on small schemas: keys as dotted paths, expected/given, all problems at once. */
import t from 'tap';
import { z } from 'zod';
import { int } from '../../src/config/schemas.js';
import {
  checkConfig,
  crossCheck,
  describe,
  dottedPath,
  expecting,
  oneOf,
  problem,
} from '../../src/config/zod-errors.js';

t.test('values, paths and choices as messages show them', async (t) => {
  t.equal(describe(undefined), 'nothing');
  t.equal(describe(null), 'null');
  t.equal(describe('abc'), 'the string "abc"');
  t.equal(describe(2.5), 'number 2.5');
  t.equal(describe(true), 'boolean true');
  t.equal(describe([1]), 'an array of 1 item');
  t.equal(describe({}), 'an object');
  t.equal(describe(new Float64Array(2)), 'an instance of Float64Array');
  t.equal(describe('x'.repeat(100)).length, 'the string ""'.length + 60);
  t.equal(dottedPath(['model', 'sizes', 2]), 'model.sizes[2]');
  t.equal(dottedPath([0, 'a']), '[0].a');
  t.equal(dottedPath([]), '');
  t.equal(oneOf(['a', 'b']), '"a" or "b"');
  t.equal(oneOf(['a', 'b', 'c']), 'one of "a", "b", "c"');
});

const rule = crossCheck(
  z.strictObject({
    lo: int(0),
    hi: int(0),
    tag: expecting(z.string().min(1), 'a tag'),
    list: z.array(z.number().positive()).optional(),
    count: int(1).optional(),
  }),
  ['lo', 'hi'],
  (v, ctx) => {
    if (v.hi <= v.lo) problem(ctx, ['hi'], `must be greater than lo (${v.lo}), got ${v.hi}`);
  },
);

t.test('every problem at once, cross-field rules included', async (t) => {
  const r = checkConfig(rule, { lo: 5, hi: 3, tag: 7, list: [1, -2, 'x'], extra: 1 });
  t.same(r, {
    ok: false,
    problems: [
      { kind: 'value', key: 'tag', detail: 'must be a tag, got number 7' },
      { kind: 'value', key: 'list[1]', detail: 'must be > 0, got -2' },
      { kind: 'value', key: 'list[2]', detail: 'must be a finite number, got the string "x"' },
      { kind: 'unknown-key', key: 'extra', allowed: ['lo', 'hi', 'tag', 'list', 'count'] },
      { kind: 'value', key: 'hi', detail: 'must be greater than lo (5), got 3' },
    ],
  });
});

t.test('a cross-field rule waits for its own keys, not for the others', async (t) => {
  // A fraction is an aborting issue in zod's own z.int(); ours lets the rule on other keys run.
  const other = checkConfig(rule, { lo: 5, hi: 3, tag: 'a', list: [0.5, 0], count: 2.5 });
  t.same(other.ok ? [] : other.problems.map((p) => p.key), ['list[1]', 'count', 'hi']);
  const own = checkConfig(rule, { lo: 1.5, hi: 0, tag: 'a' });
  t.same(own, {
    ok: false,
    problems: [{ kind: 'value', key: 'lo', detail: 'must be an integer, got number 1.5' }],
  });
  t.same(checkConfig(rule, { lo: 1, hi: 2, tag: 'a' }), { ok: true, value: { lo: 1, hi: 2, tag: 'a' } });
  t.same(checkConfig(rule, []), {
    ok: false,
    problems: [{ kind: 'value', key: '', detail: 'must be an object, got an array of 0 items' }],
  });
});
