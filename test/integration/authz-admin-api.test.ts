import { adminApiToken, readOnlyAdminApiToken } from '../support/admin-access.ts';
import { startTestGatehouse, type TestGatehouse } from '../support/test-gatehouse.ts';

/**
 * The policy decision point in the admin API, over HTTP with real tokens: the policy set (set, get, history, a
 * version, rollback; a set that does not parse changes nothing), stored resources (put, get, list page by page,
 * import, share, unshare, delete), one decision with the policies that decided it, who may do what, and 400s naming
 * the field.
 */
let gh: TestGatehouse;
let admin: string;
let ritaId: string;

async function api(method: string, path: string, body?: unknown, bearer = admin) {
  const response = await fetch(`${gh.url}/admin/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${bearer}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  // Answers are read field by field in the expectations below, so loosely typed.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json = (text ? JSON.parse(text) : undefined) as Record<string, any>;
  return { status: response.status, body: json };
}

const policy = `
@id("owners-edit")
permit(principal, action == Action::"edit", resource is doc)
  when { resource has owner && resource.owner == principal };
@id("viewers-view")
permit(principal, action == Action::"view", resource is doc)
  when { resource has viewers && principal in resource.viewers };
`;

beforeAll(async () => {
  gh = await startTestGatehouse();
  admin = await adminApiToken(gh);
  ritaId = (
    await gh.gatehouse.accounts.create({ email: 'rita@example.com', password: 'long enough password' })
  ).id;
}, 120_000);

afterAll(async () => {
  await gh?.close();
});

describe('the policy set', () => {
  it('refuses a set that does not parse, with Cedar’s message and line, and changes nothing', async () => {
    const bad = await api('PUT', '/policy', { text: 'permit(principal, action, resource)\nwhen { oops };' });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'invalid_request', field: 'policy' });
    expect(bad.body.error_description).toMatch(/line 2/);
    expect((await api('GET', '/policy')).body).toEqual({ version: 0, text: '', schema: null });
  });

  it('sets, keeps every version with who made it, and rolls back as a new version', async () => {
    const first = await api('PUT', '/policy', { text: policy });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ version: 1, policies: ['owners-edit', 'viewers-view'], schema: null });
    const second = await api('PUT', '/policy', {
      text: '@id("nothing") forbid(principal, action, resource);',
    });
    expect(second.body.version).toBe(2);
    expect((await api('GET', '/policy')).body).toMatchObject({ version: 2 });
    expect((await api('GET', '/policy/versions/1')).body).toEqual({ version: 1, text: policy, schema: null });
    const rolledBack = await api('POST', '/policy/rollback', { version: 1 });
    expect(rolledBack.body).toMatchObject({ version: 3, text: policy });
    const history = await api('GET', '/policy/history');
    expect(history.body.versions).toMatchObject([
      { version: 3, restoredFrom: 1, active: true, createdBy: 'admin:operator' },
      { version: 2, restoredFrom: null, active: false },
      { version: 1, restoredFrom: null, active: false },
    ]);
    const audit = await gh.gatehouse.audit.list({
      since: new Date(Date.now() - 60_000),
      type: 'policy.changed',
    });
    expect(audit.map((event) => event.actor)).toEqual(['admin:operator', 'admin:operator', 'admin:operator']);
    expect((await api('GET', '/policy/versions/99')).status).toBe(404);
  });
});

describe('resources and decisions', () => {
  it('puts, shares, lists page by page, imports, decides and deletes resources', async () => {
    const put = await api('PUT', '/resources/doc/plan', {
      attributes: { owner: { __entity: { type: 'user', id: ritaId } }, pages: 3 },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ type: 'doc', id: 'plan', attributes: { pages: 3 }, relations: {} });
    const imported = await api('POST', '/resources/import', [
      { uid: { type: 'doc', id: 'memo' }, attrs: {}, parents: [] },
      { uid: { type: 'doc', id: 'notes' }, attrs: { draft: true } },
    ]);
    expect(imported.body).toEqual({ imported: 2 });

    const first = await api('GET', '/resources?type=doc&limit=2');
    expect(first.body.resources.map((r: { id: string }) => r.id)).toEqual(['memo', 'notes']);
    const second = await api('GET', `/resources?type=doc&limit=2&cursor=${String(first.body.next)}`);
    expect(second.body).toMatchObject({ resources: [{ id: 'plan' }], next: null });

    const check = (action: string, id: string, explain = false) =>
      api('POST', '/authz/check', {
        subject: { type: 'user', id: ritaId },
        action: { name: action },
        resource: { type: 'doc', id },
        ...(explain ? { explain } : {}),
      });
    expect((await check('edit', 'plan')).body).toEqual({
      decision: true,
      policies: ['owners-edit'],
      errors: [],
      version: 3,
    });
    expect((await check('view', 'memo')).body.decision).toBe(false);
    const shared = await api('POST', '/resources/doc/memo/share', {
      relation: 'viewers',
      email: 'rita@example.com',
    });
    expect(shared.body).toMatchObject({
      changed: true,
      resource: { relations: { viewers: [{ type: 'user', id: ritaId }] } },
    });
    const explained = await check('view', 'memo', true);
    expect(explained.body).toMatchObject({ decision: true, policies: ['viewers-view'] });
    expect(explained.body.entities).toEqual(
      expect.arrayContaining([expect.objectContaining({ uid: { type: 'doc', id: 'memo' } })]),
    );
    expect(
      (await api('POST', '/resources/doc/memo/unshare', { relation: 'viewers', email: 'rita@example.com' }))
        .body,
    ).toMatchObject({ changed: true, resource: { relations: {} } });
    expect((await check('view', 'memo')).body.decision).toBe(false);

    expect((await api('DELETE', '/resources/doc/notes')).status).toBe(204);
    expect((await api('GET', '/resources/doc/notes')).status).toBe(404);
    const audit = await gh.gatehouse.audit.list({
      since: new Date(Date.now() - 60_000),
      type: 'resource.changed',
    });
    expect(audit.length).toBeGreaterThanOrEqual(5);
    expect(new Set(audit.map((event) => event.actor))).toEqual(new Set(['admin:operator']));
  });
});

describe('who may do what', () => {
  it('stops a caller holding only admin:read from changing policies or resources', async () => {
    const reader = await readOnlyAdminApiToken(gh);
    expect((await api('GET', '/policy', undefined, reader)).status).toBe(200);
    expect((await api('PUT', '/policy', { text: '' }, reader)).status).toBe(403);
    expect((await api('PUT', '/resources/doc/x', {}, reader)).status).toBe(403);
    expect((await api('POST', '/policy/rollback', { version: 1 }, reader)).status).toBe(403);
    expect((await api('GET', '/policy', undefined, 'forged')).status).toBe(401);
  });
});

describe('bad input', () => {
  const cases: [string, string, unknown, string][] = [
    ['PUT', '/policy', { text: 5 }, 'text'],
    ['PUT', '/policy', { text: '', extra: 1 }, 'extra'],
    ['PUT', '/policy', { text: 'permit(principal, action, resource);', schema: 'entity' }, 'schema'],
    ['POST', '/policy/rollback', { version: 0 }, 'version'],
    ['POST', '/policy/rollback', { version: '1' }, 'version'],
    ['PUT', '/resources/not%20a%20type/x', {}, 'type'],
    ['PUT', '/resources/user/x', {}, 'type'],
    ['PUT', '/resources/doc/x', { attributes: { n: 1.234567 } }, 'attributes.n'],
    ['PUT', '/resources/doc/x', { parents: [{ type: 'doc' }] }, 'parents.0.id'],
    ['POST', '/resources/import', { not: 'an array' }, 'body'],
    ['POST', '/resources/import', [{ uid: { type: '1', id: 'x' } }], '0.uid.type'],
    ['POST', '/resources/doc/plan/share', { relation: 'viewers', email: 'a@b.c', group: 'g' }, 'email'],
    ['POST', '/resources/doc/plan/share', { relation: 'not valid!', email: 'rita@example.com' }, 'relation'],
    ['POST', '/authz/check', { action: { name: 'x' }, resource: { type: 'doc', id: 'x' } }, 'subject'],
    [
      'POST',
      '/authz/check',
      { subject: { type: 'bad type', id: 'u' }, action: { name: 'x' }, resource: { type: 'doc', id: 'x' } },
      'subject.type',
    ],
    ['GET', '/resources', undefined, 'type'],
    ['GET', '/policy/versions/abc', undefined, 'version'],
  ];

  it.each(cases)('%s %s: refuses %j with a 400 naming %s', async (method, path, body, field) => {
    const answer = await api(method, path, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_request', field });
  });

  it('keeps the active policy set after all of that', async () => {
    expect((await api('GET', '/policy')).body.version).toBe(3);
  });

  it('documents every route in the OpenAPI file', async () => {
    const document = await (await fetch(`${gh.url}/admin/api/openapi.json`)).json();
    expect(Object.keys(document.paths as object)).toEqual(
      expect.arrayContaining([
        '/policy',
        '/policy/history',
        '/policy/versions/{version}',
        '/policy/rollback',
        '/resources',
        '/resources/import',
        '/resources/{type}/{id}',
        '/resources/{type}/{id}/share',
        '/resources/{type}/{id}/unshare',
        '/authz/check',
      ]),
    );
  });
});
