import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { SecretBoxError } from '../errors/secret-box-error.ts';

/**
 * Authenticated encryption of secrets at rest (TOTP seeds, signing keys, client and upstream secrets) with
 * AES-256-GCM under a key derived from GATEHOUSE_SECRET by HKDF-SHA256 (RFC 5869).
 *
 * Sealed values read `v1.<key id>.<iv>.<ciphertext+tag>`; the key id lets a previous secret still open old values
 * while `gatehouse secrets reencrypt` moves them to the current one.
 */
export interface SecretBox {
  seal(plaintext: string, context: string): string;
  open(sealed: string, context: string): string;
  /** True when the value was sealed under the current secret. */
  isCurrent(sealed: string): boolean;
}

/** AES-GCM authentication tag length: the full 128 bits (NIST SP 800-38D). */
const tagBytes = 16;

interface DerivedKey {
  id: string;
  // A KeyObject, not a Buffer: ciphers then skip re-importing the key on every call.
  key: KeyObject;
}

/** Derives independent subkeys from the root secret; `purpose` keeps each use separate. */
export function deriveKey(secret: string, purpose: string, length = 32): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'gatehouse', purpose, length));
}

function deriveEncryptionKey(secret: string): DerivedKey {
  const key = deriveKey(secret, 'at-rest encryption v1');
  const id = createHmac('sha256', key).update('key id').digest('base64url').slice(0, 8);
  return { id, key: createSecretKey(key) };
}

/**
 * @param secret the current GATEHOUSE_SECRET
 * @param previousSecrets secrets that may still have sealed stored values (during a rotation)
 * @example
 * const box = createSecretBox(config.secret);
 * const sealed = box.seal(seed, 'totp');
 * box.open(sealed, 'totp') === seed;
 */
export function createSecretBox(secret: string, previousSecrets: readonly string[] = []): SecretBox {
  const current = deriveEncryptionKey(secret);
  const keys = new Map([current, ...previousSecrets.map(deriveEncryptionKey)].map((k) => [k.id, k.key]));

  return {
    seal(plaintext, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', current.key, iv);
      // The context is authenticated but not stored, so a value sealed for one purpose cannot be replayed as another.
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return ['v1', current.id, iv.toString('base64url'), body.toString('base64url')].join('.');
    },
    open(sealed, context) {
      const [version, keyId, ivText, bodyText] = sealed.split('.');
      const key = keyId === undefined ? undefined : keys.get(keyId);
      if (version !== 'v1' || !key || !ivText || !bodyText) {
        throw new SecretBoxError(
          'a stored secret was sealed with an unknown key: GATEHOUSE_SECRET changed without `gatehouse secrets reencrypt`',
        );
      }
      const body = Buffer.from(bodyText, 'base64url');
      // The tag is always the full 16 bytes: GCM verifies a shorter tag too (down to 4 bytes), which would let a
      // forger who can write the database succeed one time in 2^32 instead of 2^128.
      if (body.length < tagBytes) throw new SecretBoxError('a stored secret failed its integrity check');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(ivText, 'base64url'), {
        authTagLength: tagBytes,
      });
      decipher.setAAD(Buffer.from(context));
      try {
        decipher.setAuthTag(body.subarray(body.length - tagBytes));
        return Buffer.concat([
          decipher.update(body.subarray(0, body.length - tagBytes)),
          decipher.final(),
        ]).toString('utf8');
      } catch {
        throw new SecretBoxError('a stored secret failed its integrity check');
      }
    },
    isCurrent(sealed) {
      return sealed.split('.')[1] === current.id;
    },
  };
}
