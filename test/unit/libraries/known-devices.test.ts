import { randomBytes } from 'node:crypto';
import { createKnownDevices, knownDeviceSeconds } from '../../../src/libraries/known-devices.ts';

describe('device cookies', () => {
  const key = randomBytes(32);
  const devices = createKnownDevices([key]);

  it('recognise a browser for the address it signed in with, whatever its case, and for no other', () => {
    const cookie = devices.remember(undefined, 'Ann@Example.com');
    const device = devices.recognise(cookie, 'ann@example.com ');
    expect(device).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(devices.recognise(cookie, 'bob@example.com')).toBeUndefined();
    // Renewing keeps the same device id (its own throttle key), and the cookie does not show the address.
    expect(devices.recognise(devices.remember(cookie, 'ann@example.com'), 'ann@example.com')).toBe(device);
    expect(cookie).not.toContain('ann');
  });

  it('stop a forged or altered token from passing as a known browser', () => {
    const cookie = devices.remember(undefined, 'ann@example.com');
    const [nonce, expiry, mac] = cookie.split('.');
    const later = String(Number(expiry) + 1);
    expect(devices.recognise(`${nonce}.${later}.${mac}`, 'ann@example.com')).toBeUndefined();
    expect(devices.recognise(`${'A'.repeat(22)}.${expiry}.${mac}`, 'ann@example.com')).toBeUndefined();
    const otherServer = createKnownDevices([randomBytes(32)]);
    expect(otherServer.recognise(cookie, 'ann@example.com')).toBeUndefined();
  });

  it('forget a browser once its token expired, and keep working across a secret rotation', () => {
    let now = Date.now();
    const clocked = createKnownDevices([key], () => now);
    const cookie = clocked.remember(undefined, 'ann@example.com');
    const rotated = createKnownDevices([randomBytes(32), key], () => now);
    expect(rotated.recognise(cookie, 'ann@example.com')).toBeDefined();
    now += (knownDeviceSeconds + 1) * 1000;
    expect(clocked.recognise(cookie, 'ann@example.com')).toBeUndefined();
  });

  it('keep the five most recent accounts of a shared browser', () => {
    let cookie: string | undefined;
    for (let i = 0; i < 7; i += 1) cookie = devices.remember(cookie, `user${i}@example.com`);
    expect(devices.recognise(cookie, 'user6@example.com')).toBeDefined();
    expect(devices.recognise(cookie, 'user2@example.com')).toBeDefined();
    expect(devices.recognise(cookie, 'user1@example.com')).toBeUndefined();
  });
});
