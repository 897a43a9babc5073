import type { Adapter, AdapterPayload } from 'oidc-provider';

/**
 * One contract for every storage backend of oidc-provider's models (memory, Redis, Redis Cluster, Postgres).
 * Postgres holds Grant and RefreshToken only, so lookups by session uid and device user code do not apply to it.
 */
export interface StorageBackend {
  name: string;
  pointers: boolean;
  adapterFor(model: string): Adapter;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let unique = 0;
export const newId = () => `id-${Date.now()}-${(unique += 1)}`;

export function describeStorageContract(backend: StorageBackend): void {
  describe(`the ${backend.name} storage adapter`, () => {
    const payload = (extra: Partial<AdapterPayload> = {}): AdapterPayload => ({
      accountId: 'account-1',
      clientId: 'client-1',
      scope: 'openid email',
      kind: 'RefreshToken',
      ...extra,
    });

    it('finds what it stored, unchanged', async () => {
      const adapter = backend.adapterFor('RefreshToken');
      const id = newId();
      const stored = payload({ grantId: 'grant-a', extra: { nested: ['x', 1] } });
      await adapter.upsert(id, stored, 60);
      await expect(adapter.find(id)).resolves.toEqual(stored);
    });

    it('finds nothing for an unknown id', async () => {
      await expect(backend.adapterFor('RefreshToken').find(newId())).resolves.toBeUndefined();
    });

    it('replaces a record on a second upsert', async () => {
      const adapter = backend.adapterFor('Grant');
      const id = newId();
      await adapter.upsert(id, payload({ scope: 'openid' }), 60);
      await adapter.upsert(id, payload({ scope: 'openid profile' }), 60);
      await expect(adapter.find(id)).resolves.toMatchObject({ scope: 'openid profile' });
    });

    it('forgets a record once its lifetime has passed', async () => {
      const adapter = backend.adapterFor('RefreshToken');
      const id = newId();
      await adapter.upsert(id, payload(), 1);
      await expect(adapter.find(id)).resolves.toBeDefined();
      await sleep(2100);
      await expect(adapter.find(id)).resolves.toBeUndefined();
    });

    it('stops a zero lifetime from meaning "never expires": it lasts one second, as in every store', async () => {
      const adapter = backend.adapterFor('RefreshToken');
      const id = newId();
      await adapter.upsert(id, payload(), 0);
      await sleep(2100);
      await expect(adapter.find(id)).resolves.toBeUndefined();
    });

    it('marks a record consumed with the time of the first consumption only', async () => {
      const adapter = backend.adapterFor('RefreshToken');
      const id = newId();
      await adapter.upsert(id, payload(), 60);
      await adapter.consume(id);
      const first = (await adapter.find(id))?.consumed as number;
      expect(first).toBeGreaterThan(Date.now() / 1000 - 10);
      await sleep(1100);
      await adapter.consume(id);
      await expect(adapter.find(id)).resolves.toMatchObject({ consumed: first });
    });

    it('does not bring back an unknown record by consuming it', async () => {
      const adapter = backend.adapterFor('RefreshToken');
      const id = newId();
      await adapter.consume(id);
      await expect(adapter.find(id)).resolves.toBeUndefined();
    });

    it('destroys a record', async () => {
      const adapter = backend.adapterFor('RefreshToken');
      const id = newId();
      await adapter.upsert(id, payload(), 60);
      await adapter.destroy(id);
      await expect(adapter.find(id)).resolves.toBeUndefined();
    });

    it("revokes every token of a grant and nothing of another grant's", async () => {
      const adapter = backend.adapterFor('RefreshToken');
      const [a1, a2, b1] = [newId(), newId(), newId()];
      const grantA = newId();
      await adapter.upsert(a1, payload({ grantId: grantA }), 60);
      await adapter.upsert(a2, payload({ grantId: grantA }), 60);
      await adapter.upsert(b1, payload({ grantId: newId() }), 60);
      await adapter.revokeByGrantId(grantA);
      await expect(adapter.find(a1)).resolves.toBeUndefined();
      await expect(adapter.find(a2)).resolves.toBeUndefined();
      await expect(adapter.find(b1)).resolves.toBeDefined();
    });

    if (backend.pointers) {
      it('finds a session by its uid and a device code by its user code', async () => {
        const sessions = backend.adapterFor('Session');
        const devices = backend.adapterFor('DeviceCode');
        const sessionId = newId();
        const deviceId = newId();
        const uid = newId();
        const userCode = `CODE-${newId()}`;
        await sessions.upsert(sessionId, { uid, accountId: 'account-1', kind: 'Session' }, 60);
        await devices.upsert(deviceId, { userCode, clientId: 'client-1', kind: 'DeviceCode' }, 60);
        await expect(sessions.findByUid(uid)).resolves.toMatchObject({ accountId: 'account-1' });
        await expect(devices.findByUserCode(userCode)).resolves.toMatchObject({ clientId: 'client-1' });
        await expect(sessions.findByUid(newId())).resolves.toBeUndefined();
      });
    }
  });
}
