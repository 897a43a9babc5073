import { AppError } from '../../../../src/errors/app-error.ts';
import {
  checkEntityType,
  isCedarTypeName,
  jsonToCedar,
  jsonToCedarRecord,
  numberToCedar,
  parseEntityRef,
} from '../../../../src/libraries/authz/cedar-values.ts';
import { compilePolicySet } from '../../../../src/libraries/authz/policy-set.ts';

/** The error a conversion throws: a 400 naming the field (exit code 2 in the CLI). */
function refusal(work: () => unknown): AppError {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).status).toBe(400);
    return error as AppError;
  }
  throw new Error('expected a refusal');
}

describe('JSON to Cedar values', () => {
  it('turns objects into records, arrays into sets, integers into Longs and keeps strings and booleans', () => {
    expect(jsonToCedar({ a: 'x', b: true, c: [1, 2], d: { e: 3 } }, 'context')).toEqual({
      a: 'x',
      b: true,
      c: [1, 2],
      d: { e: 3 },
    });
  });

  it('turns other numbers into decimals', () => {
    expect(jsonToCedar(1.5, 'x')).toEqual({ __extn: { fn: 'decimal', arg: '1.5' } });
    expect(jsonToCedar(-0.25, 'x')).toEqual({ __extn: { fn: 'decimal', arg: '-0.25' } });
    expect(jsonToCedar(1234.5678, 'x')).toEqual({ __extn: { fn: 'decimal', arg: '1234.5678' } });
    expect(numberToCedar(922337203685477.5, 'x')).toEqual({
      __extn: { fn: 'decimal', arg: '922337203685477.5' },
    });
  });

  it.each([
    [0.12345, 'more than 4 decimal places'],
    [1e-9, 'written with an exponent'],
    [922337203685478.5, 'beyond the decimal range'],
  ])('refuses %p, which does not fit a Cedar decimal (%s)', (value) => {
    expect(refusal(() => jsonToCedar({ price: value }, 'context')).message).toMatch(
      /context\.price: .* does not fit a Cedar decimal/,
    );
  });

  it('refuses an integer beyond a 64-bit Long instead of rounding it', () => {
    expect(refusal(() => jsonToCedar(2 ** 64, 'context.big')).message).toContain('does not fit a Cedar Long');
    expect(jsonToCedar(2 ** 53, 'x')).toBe(2 ** 53);
  });

  it('leaves out null values in records and sets', () => {
    expect(jsonToCedar({ a: null, b: [1, null, 2], c: { d: null } }, 'context')).toEqual({
      b: [1, 2],
      c: {},
    });
    expect(jsonToCedar(null, 'x')).toBeUndefined();
  });

  it("honours Cedar's __entity and __extn escapes", () => {
    expect(jsonToCedar({ owner: { __entity: { type: 'user', id: 'u1' } } }, 'attrs')).toEqual({
      owner: { __entity: { type: 'user', id: 'u1' } },
    });
    expect(jsonToCedar({ __extn: { fn: 'ip', arg: '10.0.0.1' } }, 'x')).toEqual({
      __extn: { fn: 'ip', arg: '10.0.0.1' },
    });
    expect(jsonToCedar({ __extn: { fn: 'decimal', arg: '1.25' } }, 'x')).toEqual({
      __extn: { fn: 'decimal', arg: '1.25' },
    });
  });

  it('stops an __entity escape from smuggling an invalid type or an extra key', () => {
    expect(refusal(() => jsonToCedar({ __entity: { type: 'not a type', id: 'x' } }, 'a')).field).toBe(
      'a.__entity.type',
    );
    refusal(() => jsonToCedar({ __entity: { type: 'user', id: 'x' }, also: 1 }, 'a'));
    refusal(() => jsonToCedar({ __entity: { type: 'user' } }, 'a'));
    refusal(() => jsonToCedar({ __extn: { fn: 'decimal', arg: 1 } }, 'a'));
  });

  it('takes only an object as a record (context, attributes)', () => {
    expect(jsonToCedarRecord(undefined, 'context')).toEqual({});
    refusal(() => jsonToCedarRecord([1], 'context'));
    refusal(() => jsonToCedarRecord('x', 'context'));
    refusal(() => jsonToCedarRecord({ __entity: { type: 'user', id: 'x' } }, 'context'));
  });

  it('stops nesting deep enough to exhaust the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100; i += 1) deep = [deep];
    refusal(() => jsonToCedar(deep, 'context'));
  });
});

describe('Cedar type names', () => {
  it.each(['user', 'document', 'app::record', '_x', 'Photo_2'])('accepts %s', (name) => {
    expect(isCedarTypeName(name)).toBe(true);
  });

  it.each(['', 'has', 'if', 'a::in', '__cedar', '__cedar::x', '1abc', 'a-b', 'a:b', 'a::', 'a b'])(
    'refuses %p',
    (name) => {
      expect(isCedarTypeName(name)).toBe(false);
    },
  );

  it('stops a subject or resource from posing as an action', () => {
    refusal(() => checkEntityType('Action', 'resource.type'));
    refusal(() => checkEntityType('app::Action', 'resource.type'));
  });

  it('reads TYPE:ID with namespaced types and ids holding colons', () => {
    expect(parseEntityRef('app::doc:a:b', '--resource')).toEqual({ type: 'app::doc', id: 'a:b' });
    expect(parseEntityRef('user:auth0|5f7c', '--subject')).toEqual({ type: 'user', id: 'auth0|5f7c' });
    refusal(() => parseEntityRef('user', '--subject'));
    refusal(() => parseEntityRef('if:x', '--subject'));
  });
});

describe('policy sets', () => {
  it('names policies by their @id annotation, else by position as Cedar does', () => {
    const compiled = compilePolicySet(
      '@id("owners") permit(principal, action, resource) when { resource.owner == principal };\nforbid(principal, action, resource);',
      null,
    );
    expect(compiled.ids).toEqual(['owners', 'policy1']);
  });

  it('stops a policy set that does not parse, naming the line', () => {
    const error = refusal(() =>
      compilePolicySet(
        'permit(principal, action, resource);\npermit(principal, action, resource)\n when { principal. };',
        null,
      ),
    );
    expect(error.message).toContain('line 3');
  });

  it("stops a policy from taking Gatehouse's own policy ids or a duplicate id", () => {
    refusal(() => compilePolicySet('@id("gatehouse:rbac") permit(principal, action, resource);', null));
    refusal(() =>
      compilePolicySet(
        '@id("a") permit(principal, action, resource);\n@id("a") forbid(principal, action, resource);',
        null,
      ),
    );
  });

  it('refuses templates, which Gatehouse never links', () => {
    refusal(() => compilePolicySet('permit(principal == ?principal, action, resource);', null));
  });

  it("validates against a schema in Cedar's JSON format too", () => {
    const schema = JSON.stringify({
      '': {
        entityTypes: {
          user: {},
          doc: { shape: { type: 'Record', attributes: { owner: { type: 'Entity', name: 'user' } } } },
        },
        actions: { view: { appliesTo: { principalTypes: ['user'], resourceTypes: ['doc'] } } },
      },
    });
    expect(
      compilePolicySet(
        'permit(principal, action == Action::"view", resource) when { resource.owner == principal };',
        schema,
      ).ids,
    ).toEqual(['policy0']);
    expect(
      refusal(() =>
        compilePolicySet(
          'permit(principal, action == Action::"view", resource) when { resource.nope };',
          schema,
        ),
      ).message,
    ).toContain('nope');
  });

  it('validates against a schema when one is given', () => {
    const schema =
      'entity user; entity doc { owner: user }; action view appliesTo { principal: user, resource: doc };';
    expect(
      compilePolicySet(
        'permit(principal, action == Action::"view", resource) when { resource.owner == principal };',
        schema,
      ).ids,
    ).toEqual(['policy0']);
    const error = refusal(() =>
      compilePolicySet(
        '\npermit(principal, action == Action::"view", resource) when { resource.nope };',
        schema,
      ),
    );
    expect(error.message).toMatch(/line 2.*nope/);
    expect(refusal(() => compilePolicySet('', 'entity user {')).field).toBe('schema');
  });
});
