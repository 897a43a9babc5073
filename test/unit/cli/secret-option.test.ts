import { Readable } from 'node:stream';
import { readFirstStdinLine, secretOption } from '../../../src/cli/options.ts';

const names = { option: '--password', stdinOption: '--password-stdin', what: 'password' };

describe('secrets from standard input', () => {
  it('reads the first line without its line ending', async () => {
    expect(await readFirstStdinLine(Readable.from(['pass', 'word\nnext line\n']))).toBe('password');
    expect(await readFirstStdinLine(Readable.from(['crlf line\r\n']))).toBe('crlf line');
    expect(await readFirstStdinLine(Readable.from(['no newline']))).toBe('no newline');
    expect(await readFirstStdinLine(Readable.from([]))).toBe('');
  });

  it('takes the command-line value, or stdin, but never both and never an empty one', async () => {
    const read = () => Promise.resolve('from stdin');
    expect(await secretOption({ value: 'given', stdin: undefined }, names, read)).toBe('given');
    expect(await secretOption({ value: undefined, stdin: undefined }, names, read)).toBeUndefined();
    expect(await secretOption({ value: undefined, stdin: true }, names, read)).toBe('from stdin');
    await expect(secretOption({ value: 'given', stdin: true }, names, read)).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/--password and --password-stdin/),
    });
    await expect(
      secretOption({ value: undefined, stdin: true }, names, () => Promise.resolve('')),
    ).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/^--password-stdin:/) });
  });
});
